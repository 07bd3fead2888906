"""Data protection: encryption at rest, erasure by crypto-shredding, audited exports."""
