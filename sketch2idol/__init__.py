"""sketch2idol: rough face sketch -> face portrait."""

__version__ = "0.1.0"
