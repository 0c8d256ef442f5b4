"""``python -m imgloss`` runs the command-line interface."""
from imgloss.cli import main

main()
