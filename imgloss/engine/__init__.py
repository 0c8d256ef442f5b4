"""The one batched evaluation core behind compare, score and check.

:mod:`.options` (what a run asks for), :mod:`.device` (device, workers, memory),
:mod:`.loader` (decoding in DataLoader workers), :mod:`.evaluator` (batching by size,
metric dispatch, one VGG forward, OOM handling). Importing the package imports no
torch; import :mod:`imgloss.engine.evaluator` for the code.
"""
