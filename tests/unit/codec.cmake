# unit tests: codec
