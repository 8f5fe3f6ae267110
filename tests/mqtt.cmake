# MQTT driver tests, sensor publisher and bench (included by tests/CMakeLists.txt).

# Simulated sensors: the demo, the integration tests and the bench.
add_executable(foyer-mqtt-pub sim/mqtt_pub.c)
target_link_libraries(foyer-mqtt-pub PkgConfig::MOSQUITTO m)

# Payload decoding against the driver's own code, no broker.
foyer_unit_test(test_mqtt_decode)
target_link_libraries(test_mqtt_decode foyer_mqtt)

# A real mosquitto broker per test, on a free loopback port.
foyer_script_test(mqtt_presets)
foyer_script_test(mqtt_malformed)
foyer_script_test(mqtt_broker_restart)
foyer_script_test(mqtt_foyerd_restart)
foyer_script_test(mqtt_sigkill)
foyer_script_test(mqtt_future)
foyer_script_test(mqtt_tls)
foyer_script_test(mqtt_password)
foyer_script_test(mqtt_cleanup)

# Benchmark: broker -> foyerd -> SQLite against a bare subscriber; run by scripts/bench.sh.
add_executable(bench_mqtt_sub bench/bench_mqtt_sub.c)
target_link_libraries(bench_mqtt_sub PkgConfig::MOSQUITTO)

# Stop and reload against a broker, a Modbus gateway and a push endpoint
# that never answer (tests/integration/blackhole.py): both drivers and the
# pusher, in one foyerd.
foyer_script_test(driver_stop)

# The fleet uplink (daemon/uplink/): a small collector peer that acks what it
# has written to a file, and the tests against a real broker and foyerd.
add_executable(foyer-uplink-peer sim/uplink_peer.c)
target_link_libraries(foyer-uplink-peer PkgConfig::MOSQUITTO PkgConfig::JANSSON)
foyer_script_test(uplink_flow)
foyer_script_test(uplink_tls)
foyer_script_test(uplink_consent)
