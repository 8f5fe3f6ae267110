# Coaching summaries and HTTP push (daemon/summary*.c, daemon/push.c):
# known-answer unit tests, push against a real local HTTP(S) receiver, and
# the summary benchmark.  Included from tests/CMakeLists.txt.
foyer_unit_test(test_summary)
foyer_script_test(push_retry)
foyer_script_test(push_tls)
foyer_script_test(push_giveup)
set_tests_properties(push_retry push_tls push_giveup PROPERTIES TIMEOUT 120)

add_executable(bench_summary bench/bench_summary.c)
target_link_libraries(bench_summary foyercore)
