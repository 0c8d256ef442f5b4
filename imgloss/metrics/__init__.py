"""One module per metric (a pure function + a thin ``nn.Module``) and the registry.

Importing this package imports no torch; import the metric modules (or
``imgloss.functional`` / ``imgloss.losses``) for the code.
"""
