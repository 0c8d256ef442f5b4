"""Image input: decode one file (:mod:`.decode`: opening with Pillow in :mod:`.opening`,
:mod:`.orientation`, samples and alpha in :mod:`.samples`, :mod:`.sixteen_bit`,
:mod:`.limits`, notes in :mod:`.conversions`), tensor helpers (:mod:`.tensors`) and pairing of paths or folders
(:mod:`.pairing`). Never imports a model, never prints; importing it imports no torch.
"""
from imgloss.io.decode import Background, LoadedImage, RawImage, read_image, read_image_raw
from imgloss.io.pairing import IMAGE_EXTENSIONS, Pair, Pairing, glob_matches, list_images, list_inputs, pair_inputs
from imgloss.io.tensors import match_channels, resize_to, to_unit_float

__all__ = [
    "IMAGE_EXTENSIONS",
    "Background",
    "LoadedImage",
    "Pair",
    "Pairing",
    "glob_matches",
    "list_images",
    "list_inputs",
    "match_channels",
    "pair_inputs",
    "RawImage",
    "read_image",
    "read_image_raw",
    "to_unit_float",
    "resize_to",
]
