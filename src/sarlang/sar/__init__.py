"""SAR pixels: reading, units and scaling, speckle filters, recipes, tiling and simulation."""
