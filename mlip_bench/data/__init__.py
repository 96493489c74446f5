"""Data layer: dataset cards, verified downloads, importers, canonical HDF5 store, splits, graphs."""
