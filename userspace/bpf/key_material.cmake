# target_sources(spsec_bpf PRIVATE ...) for key material preparation
