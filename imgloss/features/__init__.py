"""Deep-feature extractors shared by the feature metrics (``vgg``: perceptual and style)."""
