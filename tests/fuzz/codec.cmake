# fuzz targets: codec
