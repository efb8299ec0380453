# unit tests: model
