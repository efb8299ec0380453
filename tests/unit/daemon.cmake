# unit tests: daemon
