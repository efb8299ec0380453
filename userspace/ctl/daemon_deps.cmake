# target_link_libraries(spsecctl PRIVATE ...) for cmd_daemon.cpp
