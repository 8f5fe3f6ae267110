# Coaching summaries and HTTP push (daemon/coach/, daemon/push/push.c):
# known-answer unit tests, push against a real local HTTP(S) receiver, and
# the summary benchmark.  Included from tests/CMakeLists.txt.
foyer_unit_test(test_summary)
foyer_unit_test(test_signature)
foyer_unit_test(test_tips)
foyer_unit_test(test_revision)
foyer_script_test(push_retry)
foyer_script_test(push_tls)
foyer_script_test(push_giveup)
foyer_script_test(push_redirect)
foyer_script_test(push_summary_keys)
set_tests_properties(push_retry push_tls push_giveup push_redirect push_summary_keys
  PROPERTIES TIMEOUT 120)
# Revisions of a summary after late data, under libfaketime (the issue's
# scenario: the clock a day ahead).  Exit 77 (skipped) as clock_jump.
foyer_script_test(push_revision)
set_tests_properties(push_revision PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)

add_executable(bench_summary bench/bench_summary.c)
target_link_libraries(bench_summary foyercore)

# Wall-clock steps (-1 h, +1 day) under libfaketime: push retries and Modbus
# polling go on.  Exit 77 (skipped) without libfaketime or under a sanitizer.
foyer_script_test(clock_jump)
set_tests_properties(clock_jump PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
