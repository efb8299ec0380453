# unit tests: spsecctl configure/provision
