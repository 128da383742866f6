"""The networks: component autoencoders (stage 1), generator and discriminators (stage 2)."""
