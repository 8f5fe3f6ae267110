# foyer-collector (central/): its tests and bench (included by tests/CMakeLists.txt).

# Simulated gateways of the fleet uplink: a real MQTT peer for the tests
# and the bench (publishes items, resends the unacked ones).
add_executable(foyer-fleet-gw sim/fleet_gw.c)
target_link_libraries(foyer-fleet-gw PkgConfig::MOSQUITTO PkgConfig::JANSSON)

# Item decoding against the collector's own code, no broker, no database.
add_executable(test_collector_item unit/test_collector_item.c)
target_link_libraries(test_collector_item foyer_collector PkgConfig::CMOCKA)
add_test(NAME test_collector_item COMMAND test_collector_item)

# A real PostgreSQL 15 cluster and a real mosquitto per test, on loopback.
foyer_script_test(collector_pg)
foyer_script_test(collector_config)
foyer_script_test(collector_tls)

# The fleet end to end: three real foyerd gateways, a real broker, the
# collector and PostgreSQL, with SIGKILLs (issue 16).
foyer_script_test(fleet_e2e)
# A household's erasure and a withdrawal reach PostgreSQL (issue 15).
foyer_script_test(fleet_erase)
