# Modbus driver tests, simulator and bench (included by tests/CMakeLists.txt).

# The meter simulator: tests, bench and demo.
add_executable(foyer-modbus-sim sim/modbus_sim.c)
target_link_libraries(foyer-modbus-sim PkgConfig::MODBUS m)

# Decoding and request planning, against the driver's own code.
foyer_unit_test(test_modbus_decode)
target_link_libraries(test_modbus_decode foyer_modbus)

# Real Modbus traffic on loopback: the simulator, pymodbus, an RTU pty pair.
foyer_script_test(modbus_tcp)
foyer_script_test(modbus_faults)
foyer_script_test(modbus_pymodbus)
foyer_script_test(modbus_rtu)
foyer_script_test(modbus_connect_timeout)

# Benchmark: poll cycle, dead meter, CPU per value, memory; run by scripts/bench.sh.
add_executable(bench_modbus bench/bench_modbus.c)
target_link_libraries(bench_modbus foyer_modbus)

# daemon/util/util_log.c, which every driver thread calls while a reload sets the
# level (a data race before; a ThreadSanitizer build reports it).
foyer_unit_test(test_log)

# Meter health: exceptions only or NaN only is offline, not online.
foyer_script_test(modbus_health)
