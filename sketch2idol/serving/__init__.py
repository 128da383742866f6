"""Serving-time code: Triton Python-backend models and the Triton launcher; never imports torch."""
