"""The core: the tensor contract, face geometry and looks, data, models, training and
evaluation. It imports nothing from the layers above it (export, serving, gateway, launch,
cli); tests/test_layers.py holds every layer to that."""
