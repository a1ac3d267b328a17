"""Evaluators: networks that score images (face embedders, pose estimators, FID features)."""
