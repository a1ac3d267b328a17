"""Data sources: synthetic face renderer, dataset preparation and the image index."""
