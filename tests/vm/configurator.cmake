# vm tier: Configurator sessions over real CAN FD: a factory-fresh node commissioned end to end,
# session attacks refused with the key stores unchanged, the Seed Key of a running bus re-keyed.
spsec_vm_test(configurator SCRIPT ${CMAKE_CURRENT_LIST_DIR}/configurator.sh TIMEOUT 400
              DEPENDS spsecd spsecctl)
