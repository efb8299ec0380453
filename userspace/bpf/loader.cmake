# target_sources(spsec_bpf PRIVATE ...) for the loader
