# fuzz targets: model
