/*
 * test_config.c - cmocka tests of the config (daemon/conf/): the shipped
 * example, includes, meter and sensor channel creation, lookups, every kind
 * of error with its exact "FILE:LINE: message" text, and the INI reader the
 * language files share.
 *
 * Each test writes its files into a fresh directory (mkdtemp), chdirs there
 * and loads "foyer.conf" by a relative path, so the messages are the same on
 * every machine.  A failure prints the config text and the messages found.
 * FOYER_SRC (set by CTest) locates the shipped config/ directory.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "foyer/coach.h"
#include "foyer/config.h"
#include "foyer/timeutil.h"

static char tmp_root[PATH_MAX];
static char old_cwd[PATH_MAX];

static const char *src_dir(void)
{
    const char *s = getenv("FOYER_SRC");
    return s && *s ? s : ".";
}

/* Write TEXT to REL (creating its directory) in the current directory. */
static void write_file(const char *rel, const char *text)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(rel, '/');
    FILE *f;

    if (slash) {
        int n = snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
        assert_true(n > 0 && (size_t)n < sizeof(dir));
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", dir, strerror(errno));
    }
    f = fopen(rel, "w");
    if (!f)
        fail_msg("cannot write %s: %s", rel, strerror(errno));
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Remove everything under the current test directory. */
static void rm_tree(const char *path)
{
    char cmd[PATH_MAX + 32];
    int n = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    if (system(cmd) != 0)
        print_error("warning: could not remove %s\n", path);
}

static int setup_dir(void **state)
{
    char tmpl[] = "/tmp/foyer-test-config-XXXXXX";
    (void)state;
    if (!getcwd(old_cwd, sizeof(old_cwd)))
        return -1;
    if (!mkdtemp(tmpl))
        return -1;
    memcpy(tmp_root, tmpl, sizeof(tmpl));
    return chdir(tmp_root);
}

static int teardown_dir(void **state)
{
    (void)state;
    if (chdir(old_cwd) != 0)
        return -1;
    rm_tree(tmp_root);
    return 0;
}

static void print_errors(const char *what, const struct conf_errors *e)
{
    print_error("--- %s: %zu message(s)\n", what, e->n);
    for (size_t i = 0; i < e->n; i++)
        print_error("%s\n", e->msgs[i]);
}

/* Load foyer.conf (already written) and expect success. */
static struct foyer_config *load_ok(const char *text)
{
    struct conf_errors e;
    struct foyer_config *cfg = config_load("foyer.conf", &e);
    if (!cfg) {
        print_error("--- config:\n%s", text);
        print_errors("unexpected errors", &e);
        conf_errors_free(&e);
        fail_msg("config should load");
    }
    assert_int_equal(e.n, 0);
    return cfg;
}

/* Write TEXT as foyer.conf, load it, expect exactly the messages in WANT
 * (NULL-terminated), in order. */
static void expect_errors(const char *text, const char *const *want)
{
    struct conf_errors e;
    struct foyer_config *cfg;
    size_t n_want = 0;
    bool ok;

    write_file("foyer.conf", text);
    cfg = config_load("foyer.conf", &e);
    while (want[n_want])
        n_want++;
    ok = cfg == NULL && e.n == n_want;
    for (size_t i = 0; ok && i < n_want; i++)
        ok = strcmp(e.msgs[i], want[i]) == 0;
    if (!ok) {
        print_error("--- config:\n%s", text);
        print_error("--- expected %zu message(s):\n", n_want);
        for (size_t i = 0; i < n_want; i++)
            print_error("%s\n", want[i]);
        print_errors(cfg ? "loaded without error" : "got", &e);
    }
    config_free(cfg);
    conf_errors_free(&e);
    if (!ok)
        fail_msg("messages differ");
}

#define EXPECT(text, ...)                                                                          \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__, NULL};                                    \
        expect_errors((text), want_);                                                              \
    } while (0)

/* A place for meters to point at the shipped profiles. */
static void write_main_with_profiles(const char *body, char *out, size_t len)
{
    int n = snprintf(out, len, "[foyer]\nprofiles_dir = %s/config/profiles\n%s", src_dir(), body);
    assert_true(n > 0 && (size_t)n < len);
    write_file("foyer.conf", out);
}

/* ------------------------------------------------------------------ */

static void test_shipped_example(void **state)
{
    char path[PATH_MAX], sum[512];
    struct conf_errors e;
    struct foyer_config *cfg;
    int32_t c;

    (void)state;
    assert_true((size_t)snprintf(path, sizeof(path), "%s/config/foyer.conf", src_dir()) <
                sizeof(path));
    cfg = config_load(path, &e);
    if (!cfg) {
        print_errors(path, &e);
        conf_errors_free(&e);
        fail_msg("the shipped example must load");
    }
    assert_int_equal(cfg->n_buildings, 1);
    assert_int_equal(cfg->n_dwellings, 2);
    assert_int_equal(cfg->n_tenancies, 3);
    assert_int_equal(cfg->n_buses, 2);
    assert_int_equal(cfg->n_meters, 2);
    assert_int_equal(cfg->n_sensors, 3);
    assert_int_equal(cfg->n_tariffs, 2);
    assert_int_equal(cfg->n_push, 0);
    assert_int_equal(cfg->n_profiles, 2);
    /* 2 [channel] + 5 + 5 meter registers + 5 zigbee2mqtt + 3 tasmota fields
     * + 2 wildcard devices x 5 zigbee2mqtt fields */
    assert_int_equal(cfg->n_channels, 30);
    assert_true(cfg->mqtt.enabled);
    assert_true(cfg->http.enabled);
    config_summary(cfg, sum, sizeof(sum));
    assert_string_equal(sum, "1 building, 2 dwellings, 3 tenancies, 30 channels (10 counters, "
                             "20 gauges), 2 buses, 2 meters, 3 sensors, 0 push endpoints, "
                             "2 tariffs");
    c = config_find_channel(cfg, "sdb-d1.humidity");
    assert_true(c >= 0 && cfg->channels[c].dwelling >= 0);
    c = config_find_channel(cfg, "d2-ecs.hot_water");
    assert_true(c >= 0);
    assert_int_equal(cfg->channels[c].quantity, Q_HOT_WATER);
    assert_string_equal(cfg->channels[c].unit, "L");
    assert_true(cfg->channels[c].max_rate == 1500);
    assert_true(cfg->sensors[1].fields[2].scale == 1000);
    c = config_find_channel(cfg, "d1-linky");
    assert_true(c >= 0 && cfg->channels[c].rollover == 100000);
    assert_string_equal(cfg->buildings[0].name, "R\u00e9sidence des Tilleuls");
    config_free(cfg);
}

/* The dump is itself a valid config that dumps the same: load the example,
 * dump it, load the dump, dump again. */
static void test_dump_round_trip(void **state)
{
    char path[PATH_MAX], *d1 = NULL, *d2 = NULL;
    size_t l1 = 0, l2 = 0;
    struct conf_errors e;
    struct foyer_config *cfg, *cfg2;
    FILE *f;

    (void)state;
    assert_true((size_t)snprintf(path, sizeof(path), "%s/config/foyer.conf", src_dir()) <
                sizeof(path));
    cfg = config_load(path, &e);
    assert_non_null(cfg);
    f = open_memstream(&d1, &l1);
    assert_non_null(f);
    config_dump(cfg, f);
    assert_int_equal(fclose(f), 0);
    write_file("dump.conf", d1);
    cfg2 = config_load("dump.conf", &e);
    if (!cfg2) {
        print_error("--- dump:\n%s", d1);
        print_errors("reloading the dump", &e);
        conf_errors_free(&e);
    }
    assert_non_null(cfg2);
    f = open_memstream(&d2, &l2);
    assert_non_null(f);
    config_dump(cfg2, f);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(d1, d2);
    assert_int_equal(cfg->n_channels, cfg2->n_channels);
    free(d1);
    free(d2);
    config_free(cfg);
    config_free(cfg2);
}

static void test_include_split(void **state)
{
    const char *main_text = "include = conf.d/*.conf\n"
                            "[foyer]\n"
                            "timezone = UTC\n"
                            "[building b2]\n"
                            "include = more/*.conf\n"
                            "name = Les Acacias\n";
    struct foyer_config *cfg;
    char sum[512];

    (void)state;
    write_file("conf.d/20-dwellings.conf", "[dwelling d1]\nbuilding = b1\nsurface_m2 = 40\n"
                                           "heating = gas\n"
                                           "[dwelling d2]\nbuilding = b2\nsurface_m2 = 75.5\n"
                                           "heating = heat-pump\nconsent = yes\n");
    write_file("conf.d/10-buildings.conf", "[building b1]\n");
    write_file("conf.d/README", "[not read: no .conf]\n");
    write_file("more/t.conf", "[tenancy t1]\ndwelling = d2\nstart = 2024-02-29\n"
                              "end = 2025-01-31\n");
    write_file("foyer.conf", main_text);
    cfg = load_ok(main_text);
    assert_int_equal(cfg->n_buildings, 2);
    /* conf.d files are read in name order, before [building b2] */
    assert_string_equal(cfg->buildings[0].id, "b1");
    assert_null(cfg->buildings[0].name);
    assert_string_equal(cfg->buildings[1].id, "b2");
    /* the key after the include still belongs to [building b2] */
    assert_string_equal(cfg->buildings[1].name, "Les Acacias");
    assert_int_equal(cfg->n_dwellings, 2);
    assert_int_equal(cfg->dwellings[1].building, 1);
    assert_true(cfg->dwellings[1].surface_m2 == 75.5);
    assert_int_equal(cfg->dwellings[1].heating, HEATING_HEAT_PUMP);
    assert_true(cfg->dwellings[1].consent);
    assert_false(cfg->dwellings[0].consent);
    assert_int_equal(cfg->n_tenancies, 1);
    assert_int_equal(cfg->tenancies[0].start_ymd, 20240229);
    assert_int_equal(cfg->tenancies[0].end_ymd, 20250131);
    assert_string_equal(cfg->tenancies[0].pos.file, "more/t.conf");
    assert_int_equal(cfg->tenancies[0].pos.line, 1);
    assert_string_equal(cfg->dwellings[0].pos.file, "conf.d/20-dwellings.conf");
    assert_int_equal(cfg->dwellings[1].pos.line, 5);
    assert_int_equal(config_find_dwelling(cfg, "d2"), 1);
    assert_int_equal(config_find_building(cfg, "b9"), -1);
    assert_string_equal(cfg->timezone, "UTC");
    config_summary(cfg, sum, sizeof(sum));
    assert_string_equal(sum, "2 buildings, 2 dwellings, 1 tenancy, 0 channels (0 counters, "
                             "0 gauges), 0 buses, 0 meters, 0 sensors, 0 push endpoints, "
                             "0 tariffs");
    config_free(cfg);
}

static void test_include_no_match_and_errors_in_included(void **state)
{
    (void)state;
    write_file("conf.d/a.conf", "[building b1]\n"
                                "nme = x\n");
    EXPECT("include = nothing/*.conf\n"
           "include = conf.d/*.conf\n"
           "[dwelling d1]\n"
           "building = b1\n"
           "surface_m2 = 0\n"
           "heating = coal\n",
           "foyer.conf:5: bad value \"0\" for \"surface_m2\" in [dwelling d1] (expected a "
           "number > 0)",
           "foyer.conf:6: bad value \"coal\" for \"heating\" in [dwelling d1] (expected one of: "
           "electric, gas, district, collective, heat-pump)",
           "conf.d/a.conf:2: unknown key \"nme\" in [building b1]");
}

static void test_include_unreadable(void **state)
{
    (void)state;
    write_file("conf.d/10-ok.conf", "[building b1]\n");
    assert_int_equal(symlink("does-not-exist.conf", "conf.d/20-dangling.conf"), 0);
    EXPECT("[foyer]\n"
           "include = conf.d/*.conf\n",
           "foyer.conf:2: cannot open include \"conf.d/20-dangling.conf\": No such file or "
           "directory");
    if (geteuid() != 0) { /* root reads anything: only then is mode 000 a test */
        assert_int_equal(unlink("conf.d/20-dangling.conf"), 0);
        write_file("conf.d/30-secret.conf", "[building b2]\n");
        assert_int_equal(chmod("conf.d/30-secret.conf", 0), 0);
        EXPECT("include = conf.d/*.conf\n",
               "foyer.conf:1: cannot open include \"conf.d/30-secret.conf\": Permission denied");
    }
}

static void test_include_loop(void **state)
{
    char name[32], text[64];

    (void)state;
    write_file("sub/a.conf", "[building a]\ninclude = ../foyer.conf\n");
    EXPECT("include = sub/a.conf\n",
           "sub/a.conf:2: include loop: \"sub/../foyer.conf\" is already being read");
    /* a chain deeper than FOYER_CONF_INCLUDE_DEPTH, without a loop */
    for (int i = 1; i <= FOYER_CONF_INCLUDE_DEPTH + 1; i++) {
        (void)snprintf(name, sizeof(name), "c%d.conf", i);
        (void)snprintf(text, sizeof(text), "[building b%d]\ninclude = c%d.conf\n", i, i + 1);
        write_file(name, text);
    }
    EXPECT("include = c1.conf\n", "c8.conf:2: include nested too deeply (max 8 levels)");
    /* each file is read once: "include = *.conf" everywhere stays linear */
    write_file("d/x.conf", "[building x]\n");
    EXPECT("include = d/x.conf\n"
           "include = d/../d/*.conf\n",
           "foyer.conf:2: \"d/../d/x.conf\" is included twice (already read as \"d/x.conf\")");
}

static void test_meter_channels(void **state)
{
    char text[2048];
    struct foyer_config *cfg;
    const struct meter *m;
    const struct profile *pr;
    int32_t c;

    (void)state;
    write_main_with_profiles("[building b1]\n"
                             "[dwelling d12]\nbuilding = b1\nsurface_m2 = 52\nheating = gas\n"
                             "[bus gw1]\ntype = tcp\nhost = 192.0.2.10\n"
                             "[bus rtu0]\ntype = rtu\ndevice = /dev/ttyUSB0\nparity = even\n"
                             "[meter m1]\nprofile = sdm120\nbus = rtu0\nunit_id = 12\n"
                             "building = b1\n"
                             "[meter m12]\nprofile = sdm630\nbus = gw1\nunit_id = 12\n"
                             "dwelling = d12\ninterval = 15\n",
                             text, sizeof(text));
    cfg = load_ok(text);
    assert_int_equal(cfg->n_meters, 2);
    assert_int_equal(cfg->n_profiles, 2);
    assert_int_equal(cfg->n_channels, 10);
    m = &cfg->meters[1];
    pr = &cfg->profiles[m->profile];
    assert_string_equal(pr->name, "sdm630");
    assert_string_equal(pr->model, "Eastron SDM630");
    assert_int_equal(pr->n_regs, 5);
    assert_int_equal(m->first_channel, 5);
    assert_int_equal(m->interval_s, 15);
    assert_int_equal(m->dwelling, 0);
    assert_int_equal(m->building, 0);

    c = config_find_channel(cfg, "m12.energy_import");
    assert_int_equal(c, 8);
    assert_int_equal(cfg->channels[c].quantity, Q_ELECTRICITY);
    assert_int_equal(cfg->channels[c].kind, KIND_COUNTER);
    assert_string_equal(cfg->channels[c].unit, "kWh");
    assert_int_equal(cfg->channels[c].meter, 1);
    assert_int_equal(cfg->channels[c].sensor, -1);
    assert_int_equal(cfg->channels[c].reg, 3);
    assert_int_equal(cfg->channels[c].dwelling, 0);
    assert_int_equal(cfg->channels[c].building, 0);
    assert_true(cfg->channels[c].max_rate == 36);
    assert_int_equal(pr->regs[3].address, 0x48);
    assert_int_equal(pr->regs[3].function, REG_INPUT);
    assert_int_equal(pr->regs[3].type, RT_FLOAT32);
    assert_int_equal(pr->regs[3].order, WO_ABCD);

    c = config_find_channel(cfg, "m12.power");
    assert_int_equal(c, 7);
    assert_int_equal(cfg->channels[c].quantity, Q_POWER);
    assert_int_equal(cfg->channels[c].kind, KIND_GAUGE);
    assert_string_equal(cfg->channels[c].unit, "W");
    assert_int_equal(cfg->channels[c].reg, 2);
    assert_int_equal(pr->regs[2].address, 0x34);

    /* the building-level meter gets building-level defaults */
    c = config_find_channel(cfg, "m1.energy_import");
    assert_int_equal(c, 3);
    assert_int_equal(cfg->channels[c].dwelling, -1);
    assert_int_equal(cfg->channels[c].building, 0);
    assert_true(cfg->channels[c].max_rate == 2000);
    assert_int_equal(cfg->profiles[cfg->meters[0].profile].regs[2].address, 0x0C);
    c = config_find_channel(cfg, "m1.voltage");
    assert_int_equal(c, 0);
    assert_int_equal(cfg->channels[c].quantity, Q_VOLTAGE);
    assert_true(cfg->channels[c].min_value == 0 && cfg->channels[c].max_value == 1000);

    assert_int_equal(config_find_channel(cfg, "m12"), -1);
    assert_int_equal(config_find_channel(cfg, "m12.energy"), -1);
    assert_int_equal(config_find_channel(cfg, "zz"), -1);
    assert_int_equal(cfg->buses[1].frame_delay_ms, 5);
    assert_int_equal(cfg->buses[1].parity, PARITY_EVEN);
    assert_int_equal(cfg->buses[0].frame_delay_ms, 0);
    assert_int_equal(cfg->buses[0].port, 502);
    config_free(cfg);
}

static void test_sensor_presets(void **state)
{
    const char *text = "[building b1]\n"
                       "[dwelling d1]\nbuilding = b1\nsurface_m2 = 30\nheating = district\n"
                       "[sensor salon]\n"
                       "topic = zigbee2mqtt/salon\n"
                       "preset = zigbee2mqtt\n"
                       "dwelling = d1\n"
                       "channel.temperature = temp.value, temperature, 0.1\n"
                       "channel.pressure_raw = -, humidity\n"
                       "[sensor plug]\n"
                       "topic = shellies/+/status/#\n"
                       "preset = shelly-gen2\n"
                       "building = b1\n"
                       "stale_after = 5\n"
                       "timestamp_field = sys.unixtime\n"
                       "device.plug1 = -\n"
                       "[sensor t]\ntopic = tele/t/SENSOR\npreset = tasmota\nbuilding = b1\n";
    struct foyer_config *cfg;
    const struct sensor *s;
    int32_t c;

    (void)state;
    write_file("foyer.conf", text);
    cfg = load_ok(text);
    assert_int_equal(cfg->n_sensors, 3);
    s = &cfg->sensors[0];
    assert_int_equal(s->preset, PRESET_ZIGBEE2MQTT);
    assert_int_equal(s->n_fields, 6);
    assert_int_equal(s->first_channel, 0);
    /* replaced in place, keeps the preset's order */
    assert_string_equal(s->fields[0].name, "temperature");
    assert_string_equal(s->fields[0].path, "temp.value");
    assert_true(s->fields[0].scale == 0.1);
    assert_string_equal(s->fields[5].name, "pressure_raw");
    assert_string_equal(s->fields[5].path, "");
    assert_string_equal(s->fields[1].path, "humidity");
    assert_int_equal(s->interval_s, 300);
    assert_int_equal(s->stale_after, 3);
    assert_null(s->timestamp_field);

    c = config_find_channel(cfg, "salon.temperature");
    assert_int_equal(c, 0);
    assert_int_equal(cfg->channels[c].quantity, Q_TEMPERATURE);
    assert_int_equal(cfg->channels[c].kind, KIND_GAUGE);
    assert_string_equal(cfg->channels[c].unit, "\u00b0C");
    assert_int_equal(cfg->channels[c].sensor, 0);
    assert_int_equal(cfg->channels[c].meter, -1);
    assert_int_equal(cfg->channels[c].reg, -1);
    assert_true(cfg->channels[c].min_value == -40 && cfg->channels[c].max_value == 85);
    c = config_find_channel(cfg, "salon.co2");
    assert_int_equal(cfg->channels[c].quantity, Q_CO2);
    assert_string_equal(cfg->channels[c].unit, "ppm");
    c = config_find_channel(cfg, "salon.energy");
    assert_int_equal(cfg->channels[c].kind, KIND_COUNTER);
    assert_true(cfg->channels[c].max_rate == 36);

    s = &cfg->sensors[1];
    assert_int_equal(s->first_channel, 6);
    assert_int_equal(s->n_fields, 2);
    assert_string_equal(s->fields[0].path, "aenergy.total");
    assert_true(s->fields[0].scale == 0.001);
    assert_string_equal(s->timestamp_field, "sys.unixtime");
    assert_int_equal(s->stale_after, 5);
    c = config_find_channel(cfg, "plug1.energy"); /* a wildcard topic: DEVICE.FIELD */
    assert_int_equal(c, 6);
    assert_int_equal(cfg->channels[c].dwelling, -1);
    assert_true(cfg->channels[c].max_rate == 2000);
    c = config_find_channel(cfg, "t.power");
    assert_int_equal(c, 9);
    assert_string_equal(cfg->sensors[2].fields[1].path, "ENERGY.Power");
    assert_string_equal(cfg->sensors[2].fields[0].path, "ENERGY.Total");
    config_free(cfg);
}

/* A wildcard topic covers the devices listed with device.NAME = PLACE:
 * channels DEVICE.FIELD at each device's place, device-major from
 * first_channel; "-" takes the section's place. */
static void test_sensor_wildcard_devices(void **state)
{
    static const char text[] = "[building b1]\n"
                               "[building b2]\n"
                               "[dwelling a01]\nbuilding = b2\nsurface_m2 = 40\nheating = gas\n"
                               "[sensor z2m]\n"
                               "topic = zigbee2mqtt/+\n"
                               "preset = zigbee2mqtt\n"
                               "building = b1\n"
                               "device.salon-a01 = a01\n"
                               "device.hall = b2\n"
                               "device.cave = -\n"
                               "[sensor plug]\ntopic = tele/plug/SENSOR\npreset = tasmota\n"
                               "dwelling = a01\n";
    struct foyer_config *cfg;
    const struct sensor *s;
    int32_t c;
    (void)state;

    write_file("foyer.conf", text);
    cfg = load_ok(text);
    assert_int_equal(cfg->n_sensors, 2);
    s = &cfg->sensors[0];
    assert_int_equal(s->n_fields, 5);
    assert_int_equal(cfg->n_channels, 3 * 5 + 2);
    assert_int_equal(cfg->sensors[1].first_channel, s->first_channel + 15);

    c = config_find_channel(cfg, "salon-a01.temperature");
    assert_int_equal(c, (int32_t)s->first_channel);
    assert_int_equal(cfg->channels[c].sensor, 0);
    assert_string_equal(cfg->dwellings[cfg->channels[c].dwelling].id, "a01");
    assert_string_equal(cfg->buildings[cfg->channels[c].building].id, "b2");
    c = config_find_channel(cfg, "hall.power");
    assert_int_equal(c, (int32_t)s->first_channel + 5 + 4);
    assert_int_equal(cfg->channels[c].dwelling, -1);
    assert_string_equal(cfg->buildings[cfg->channels[c].building].id, "b2");
    c = config_find_channel(cfg, "cave.humidity");
    assert_int_equal(c, (int32_t)s->first_channel + 10 + 1);
    assert_string_equal(cfg->buildings[cfg->channels[c].building].id, "b1");
    assert_int_equal(config_find_channel(cfg, "z2m.temperature"), -1);
    assert_true(config_find_channel(cfg, "plug.energy") >= 0);
    config_free(cfg);
}

static void test_err_sensor_devices(void **state)
{
    (void)state;
    EXPECT("[building b1]\n"
           "[dwelling x]\nbuilding = b1\nsurface_m2 = 40\nheating = gas\n"
           "[building x]\n"
           "[sensor a]\ntopic = z/+\npreset = zigbee2mqtt\n"
           "[sensor b]\ntopic = z/b\npreset = zigbee2mqtt\nbuilding = b1\n"
           "device.d1 = b1\n"
           "[sensor c]\ntopic = y/#\npreset = zigbee2mqtt\n"
           "device.bad.name = b1\n"
           "device.d2 = nowhere\n"
           "device.d3 = x\n"
           "device.d4 = -\n"
           "device.b = b1\n",
           "foyer.conf:7: sensor a: topic \"z/+\" has a wildcard: list its devices with "
           "device.NAME = DWELLING or BUILDING",
           "foyer.conf:14: sensor b: device.d1 applies only to a topic with \"+\" or \"#\"",
           "foyer.conf:18: sensor c: bad device name \"bad.name\" (use 1 to 64 letters, digits, "
           "\"_\" or \"-\")",
           "foyer.conf:19: sensor c: device.d2: unknown dwelling or building \"nowhere\"",
           "foyer.conf:20: sensor c: device.d3: \"x\" is both a dwelling and a building",
           "foyer.conf:21: sensor c: device.d4 = - needs the section's \"dwelling\" or "
           "\"building\"",
           "foyer.conf:22: sensor c: device \"b\" has the ID of a sensor or meter");
}

static void test_channels_and_defaults(void **state)
{
    const char *text = "[building b1]\n"
                       "[dwelling d1]\nbuilding = b1\nsurface_m2 = 30\nheating = electric\n"
                       "[channel d1-linky]\ndwelling = d1\nquantity = electricity\n"
                       "kind = counter\nunit = kWh\nrollover = 100000\n"
                       "[channel b1-water]\nbuilding = b1\nquantity = cold_water\nunit = L\n"
                       "[channel b1-ext]\nbuilding = b1\nquantity = outdoor_temperature\n"
                       "[channel d1-heat]\ndwelling = d1\nquantity = heat\nmax_rate = 12.5\n";
    struct foyer_config *cfg;
    int32_t c;

    (void)state;
    write_file("foyer.conf", text);
    cfg = load_ok(text);
    assert_int_equal(cfg->n_channels, 4);
    c = config_find_channel(cfg, "d1-linky");
    assert_int_equal(c, 0);
    assert_true(cfg->channels[c].rollover == 100000);
    assert_true(cfg->channels[c].max_rate == 36);
    assert_true(cfg->channels[c].min_value == 0 && cfg->channels[c].max_value == 1e15);
    c = config_find_channel(cfg, "b1-water");
    assert_true(cfg->channels[c].max_rate == 200000);
    assert_int_equal(cfg->channels[c].dwelling, -1);
    c = config_find_channel(cfg, "b1-ext");
    assert_int_equal(cfg->channels[c].kind, KIND_GAUGE);
    assert_true(cfg->channels[c].min_value == -60);
    c = config_find_channel(cfg, "d1-heat");
    assert_true(cfg->channels[c].max_rate == 12.5);
    /* [foyer] defaults */
    assert_string_equal(cfg->database, "/var/lib/foyer/foyer.db");
    assert_string_equal(cfg->timezone, "Europe/Paris");
    assert_string_equal(cfg->profiles_dir, "profiles");
    assert_string_equal(cfg->log_level, "info");
    assert_int_equal(cfg->raw_retention_days, 30);
    assert_int_equal(cfg->raw_retention_days_no_consent, 7);
    assert_int_equal(cfg->batch_readings, FOYER_BATCH_READINGS);
    assert_int_equal(cfg->batch_deadline_ms, FOYER_BATCH_DEADLINE_MS);
    assert_false(cfg->mqtt.enabled);
    assert_false(cfg->http.enabled);
    config_free(cfg);
}

static void test_other_sections(void **state)
{
    const char *text =
        "[foyer]\ndatabase = data/foyer.db\nlog_level = debug\n"
        "[building b1]\n"
        "[mqtt]\nhost = broker.example\ntls = true\nqos = 2\nprotocol = 311\n"
        "password_file = /etc/foyer/mqtt.pw\n"
        "[http]\nport = 8443\ntokens_file = tokens\n"
        "[push]\nurl = https://a.example/x\n"
        "[push p2]\nurl = http://b.example/\ntimeout = 30\ntls_verify = no\ninsecure = yes\n"
        "[tariff e]\nquantity = electricity\nprice = 0.25\n"
        "valid_from = 2025-01-01\nvalid_to = 2025-12-31\nbuilding = b1\n"
        "[tariff w]\nquantity = hot_water\nprice = 10\n";
    struct foyer_config *cfg;

    (void)state;
    assert_int_equal(mkdir("sub", 0755), 0);
    write_file("sub/foyer.conf", text);
    {
        struct conf_errors e;
        cfg = config_load("sub/foyer.conf", &e);
        if (!cfg)
            print_errors(text, &e);
        assert_non_null(cfg);
    }
    /* relative paths are relative to the main file's directory */
    assert_string_equal(cfg->database, "sub/data/foyer.db");
    assert_string_equal(cfg->profiles_dir, "sub/profiles");
    assert_string_equal(cfg->http.tokens_file, "sub/tokens");
    assert_string_equal(cfg->mqtt.password_file, "/etc/foyer/mqtt.pw");
    assert_string_equal(cfg->log_level, "debug");
    assert_true(cfg->mqtt.enabled && cfg->mqtt.tls);
    assert_int_equal(cfg->mqtt.port, 8883);
    assert_int_equal(cfg->mqtt.qos, 2);
    assert_int_equal(cfg->mqtt.protocol, 311);
    assert_string_equal(cfg->mqtt.host, "broker.example");
    assert_int_equal(cfg->http.port, 8443);
    assert_string_equal(cfg->http.listen, "127.0.0.1");
    assert_int_equal(cfg->n_push, 2);
    assert_string_equal(cfg->push[0].id, "");
    assert_int_equal(cfg->push[0].timeout_s, 10);
    assert_int_equal(cfg->push[0].max_age_s, 7 * 86400);
    assert_true(cfg->push[0].tls_verify);
    assert_false(cfg->push[1].tls_verify);
    assert_int_equal(cfg->push[1].timeout_s, 30);
    assert_int_equal(cfg->n_tariffs, 2);
    assert_int_equal(cfg->tariffs[0].valid_from_ymd, 20250101);
    assert_int_equal(cfg->tariffs[0].valid_to_ymd, 20251231);
    assert_int_equal(cfg->tariffs[0].building, 0);
    assert_string_equal(cfg->tariffs[0].price_unit, "kWh");
    assert_string_equal(cfg->tariffs[1].price_unit, "m3");
    assert_int_equal(cfg->tariffs[1].building, -1);
    config_free(cfg);
}

static void test_empty_section_and_bom(void **state)
{
    const char *text = "\xEF\xBB\xBF; a BOM, then an empty section\n"
                       "[building b2]\n"
                       "  [ building   b3 ]   ; spaces are fine\n"
                       "# hash comment\n";
    struct foyer_config *cfg;

    (void)state;
    write_file("foyer.conf", text);
    cfg = load_ok(text);
    assert_int_equal(cfg->n_buildings, 2);
    assert_string_equal(cfg->buildings[0].id, "b2");
    assert_int_equal(cfg->buildings[1].pos.line, 3);
    config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Errors                                                                */

static void test_err_unknown_section(void **state)
{
    (void)state;
    EXPECT("[buildng b1]\n"
           "name = x\n"
           "[foyer extra]\n"
           "[dwelling]\n"
           "[building b.1]\n"
           "[building a b]\n",
           "foyer.conf:1: unknown section type \"buildng\"", "foyer.conf:3: [foyer] takes no ID",
           "foyer.conf:4: [dwelling] needs an ID: [dwelling ID]",
           "foyer.conf:5: bad ID \"b.1\" in [building b.1]: use 1 to 64 letters, digits, \"_\" "
           "or \"-\"",
           "foyer.conf:6: bad section header: expected [building ID]");
}

static void test_err_unknown_key(void **state)
{
    (void)state;
    EXPECT("[building b1]\n"
           "[dwelling d1]\n"
           "building = b1\n"
           "heating = gas\n"
           "surfce_m2 = 52\n"
           "[foyer]\n"
           "databse = x\n"
           "[sensor s]\n"
           "topic = a/b\n"
           "building = b1\n"
           "channel.t = t, temperature\n"
           "chanel.t = t, temperature\n",
           "foyer.conf:2: missing required key \"surface_m2\" in [dwelling d1]",
           "foyer.conf:5: unknown key \"surfce_m2\" in [dwelling d1]",
           "foyer.conf:7: unknown key \"databse\" in [foyer]",
           "foyer.conf:12: unknown key \"chanel.t\" in [sensor s]");
}

static void test_err_missing_required(void **state)
{
    (void)state;
    EXPECT("[building b1]\n"
           "[dwelling d1]\n"
           "label = x\n"
           "[tenancy t1]\n"
           "dwelling = d1\n"
           "[bus gw1]\n"
           "type = tcp\n"
           "[bus r]\n"
           "type = rtu\n"
           "[meter m1]\n"
           "profile = sdm120\n"
           "[sensor s]\n"
           "building = b1\n"
           "[push]\n"
           "[tariff x]\n"
           "quantity = gas\n"
           "[channel c]\n"
           "quantity = power\n",
           "foyer.conf:2: missing required key \"building\" in [dwelling d1]",
           "foyer.conf:2: missing required key \"surface_m2\" in [dwelling d1]",
           "foyer.conf:2: missing required key \"heating\" in [dwelling d1]",
           "foyer.conf:4: missing required key \"start\" in [tenancy t1]",
           "foyer.conf:6: missing required key \"host\" in [bus gw1]",
           "foyer.conf:8: missing required key \"device\" in [bus r]",
           "foyer.conf:10: missing required key \"bus\" in [meter m1]",
           "foyer.conf:10: missing required key \"unit_id\" in [meter m1]",
           "foyer.conf:10: meter m1: missing \"dwelling\" or \"building\"",
           "foyer.conf:11: meter m1: unknown profile \"sdm120\" (no file profiles/sdm120.conf)",
           "foyer.conf:12: missing required key \"topic\" in [sensor s]",
           "foyer.conf:12: sensor s: no fields (set a preset or channel.NAME keys)",
           "foyer.conf:14: missing required key \"url\" in [push]",
           "foyer.conf:15: missing required key \"price\" in [tariff x]",
           "foyer.conf:17: channel c: missing \"dwelling\" or \"building\"");
}

static void test_err_bad_values(void **state)
{
    (void)state;
    EXPECT("[foyer]\n"
           "raw_retention_days = 30x\n"
           "batch_readings = 0\n"
           "log_level = verbose\n"
           "batch_deadline_ms = nan\n"
           "[building b1]\n"
           "[dwelling d1]\n"
           "building = b1\n"
           "surface_m2 = inf\n"
           "heating = gas\n"
           "consent = maybe\n"
           "[tenancy t1]\n"
           "dwelling = d1\n"
           "start = 2023-02-29\n"
           "[bus gw1]\n"
           "type = tcp\n"
           "host = 192.0.2.1\n"
           "port = 70000\n"
           "baud = 9600\n"
           "[bus r]\n"
           "type = serial\n"
           "[channel c1]\n"
           "building = b1\n"
           "quantity = electricity\n"
           "kind = gauge\n"
           "unit = Wh\n"
           "max_rate = -1\n"
           "[channel c2]\n"
           "building = b1\n"
           "quantity = temperature\n"
           "unit = C\n"
           "rollover = 10\n"
           "[sensor s]\n"
           "topic = a/b#\n"
           "building = b1\n"
           "channel.x = a..b, temperature\n"
           "channel.y = a, wind\n"
           "channel.z = a, power, 0\n"
           "[push]\n"
           "url = ftp://x\n"
           "[tariff t]\n"
           "quantity = power\n"
           "price = 1\n",
           "foyer.conf:2: bad value \"30x\" for \"raw_retention_days\" in [foyer] (expected an "
           "integer from 1 to 36600)",
           "foyer.conf:3: bad value \"0\" for \"batch_readings\" in [foyer] (expected an integer "
           "from 1 to 50000)",
           "foyer.conf:4: bad value \"verbose\" for \"log_level\" in [foyer] (expected one of: "
           "error, warning, info, debug)",
           "foyer.conf:5: bad value \"nan\" for \"batch_deadline_ms\" in [foyer] (expected an "
           "integer from 1 to 60000)",
           "foyer.conf:9: bad value \"inf\" for \"surface_m2\" in [dwelling d1] (expected a "
           "number > 0)",
           "foyer.conf:11: bad value \"maybe\" for \"consent\" in [dwelling d1] (expected true, "
           "false, yes, no, 1 or 0)",
           "foyer.conf:14: bad value \"2023-02-29\" for \"start\" in [tenancy t1] (expected a "
           "date YYYY-MM-DD)",
           "foyer.conf:18: bad value \"70000\" for \"port\" in [bus gw1] (expected an integer "
           "from 1 to 65535)",
           "foyer.conf:19: bus gw1: \"baud\" does not apply to a tcp bus",
           "foyer.conf:21: bad value \"serial\" for \"type\" in [bus r] (expected one of: tcp, "
           "rtu)",
           "foyer.conf:25: channel c1: kind \"gauge\" does not match quantity electricity "
           "(expected counter)",
           "foyer.conf:26: channel c1: unit \"Wh\" does not match quantity electricity (expected "
           "\"kWh\")",
           "foyer.conf:27: bad value \"-1\" for \"max_rate\" in [channel c1] (expected a number "
           "> 0)",
           "foyer.conf:31: channel c2: unit \"C\" does not match quantity temperature (expected "
           "\"\u00b0C\")",
           "foyer.conf:32: channel c2: rollover applies only to counters",
           "foyer.conf:34: bad value \"a/b#\" for \"topic\" in [sensor s] (expected an MQTT "
           "topic; \"+\" and \"#\" fill a whole level, \"#\" only last)",
           "foyer.conf:36: bad value \"a..b, temperature\" for \"channel.x\" in [sensor s] "
           "(expected PATH, QUANTITY[, SCALE] with PATH a JSON path or \"-\")",
           "foyer.conf:37: bad value \"a, wind\" for \"channel.y\" in [sensor s] (expected a "
           "quantity, one of: electricity, heat, gas, hot_water, cold_water, power, "
           "temperature, humidity, co2, outdoor_temperature, voltage, current)",
           "foyer.conf:38: bad value \"a, power, 0\" for \"channel.z\" in [sensor s] (expected "
           "a SCALE number other than 0)",
           "foyer.conf:40: bad value \"ftp://x\" for \"url\" in [push] (expected an http:// or "
           "https:// URL)",
           "foyer.conf:42: bad value \"power\" for \"quantity\" in [tariff t] (expected a "
           "counter quantity: electricity, heat, gas, hot_water, cold_water)");
}

static void test_err_duplicates(void **state)
{
    char text[2048];

    (void)state;
    write_file("conf.d/x.conf", "[building b1]\n");
    write_main_with_profiles("[building b1]\n"
                             "name = A\n"
                             "include = conf.d/*.conf\n"
                             "[building b1]\n"
                             "[building b2]\nname = B\nname = C\n"
                             "[foyer]\n"
                             "[bus gw1]\ntype = tcp\nhost = 192.0.2.1\n"
                             "[meter m1]\nprofile = sdm120\nbus = gw1\nunit_id = 3\n"
                             "building = b1\n"
                             "[meter m2]\nprofile = sdm630\nbus = gw1\nunit_id = 3\n"
                             "building = b1\n"
                             "[sensor m1]\ntopic = t\nbuilding = b1\n"
                             "channel.power = p, power\n",
                             text, sizeof(text));
    /* Reading order: foyer.conf up to line 5, conf.d/x.conf, the rest of
     * foyer.conf; messages are sorted by file, then line. */
    EXPECT(text, "foyer.conf:6: duplicate building \"b1\" (first defined at foyer.conf:3)",
           "foyer.conf:9: duplicate key \"name\" in [building b2] (first set at line 8)",
           "foyer.conf:10: duplicate section [foyer] (first defined at foyer.conf:1)",
           "foyer.conf:22: meter m2: unit_id 3 on bus gw1 already used by meter m1 "
           "(foyer.conf:14)",
           "foyer.conf:24: duplicate channel \"m1.power\" (first defined at foyer.conf:14)",
           "conf.d/x.conf:1: duplicate building \"b1\" (first defined at foyer.conf:3)");
}

static void test_err_references(void **state)
{
    (void)state;
    EXPECT("[building b1]\n"
           "[dwelling d3]\n"
           "building = b9\n"
           "surface_m2 = 40\n"
           "heating = gas\n"
           "[tenancy t1]\n"
           "dwelling = d9\n"
           "start = 2024-01-01\n"
           "[channel c]\n"
           "dwelling = d3\n"
           "building = b1\n"
           "quantity = gas\n"
           "[meter m]\n"
           "profile = x\n"
           "bus = nope\n"
           "unit_id = 1\n"
           "building = b2\n"
           "[tariff t]\n"
           "quantity = gas\n"
           "price = 1\n"
           "building = b7\n",
           "foyer.conf:3: dwelling d3: unknown building \"b9\"",
           "foyer.conf:7: tenancy t1: unknown dwelling \"d9\"",
           "foyer.conf:11: channel c: set only one of \"dwelling\" and \"building\"",
           "foyer.conf:14: meter m: unknown profile \"x\" (no file profiles/x.conf)",
           "foyer.conf:15: meter m: unknown bus \"nope\"",
           "foyer.conf:17: meter m: unknown building \"b2\"",
           "foyer.conf:21: tariff t: unknown building \"b7\"");
}

static void test_err_tenancy_dates(void **state)
{
    (void)state;
    EXPECT("[building b1]\n"
           "[dwelling d1]\nbuilding = b1\nsurface_m2 = 40\nheating = gas\n"
           "[tenancy t1]\ndwelling = d1\nstart = 2024-03-01\nend = 2024-02-01\n"
           "[tenancy t2]\ndwelling = d1\nstart = 2020-01-01\nend = 2024-03-01\n"
           "[tenancy t3]\ndwelling = d1\nstart = 2024-03-02\n",
           "foyer.conf:9: tenancy t1: end 2024-02-01 is before start 2024-03-01");
    EXPECT("[building b1]\n"
           "[dwelling d1]\nbuilding = b1\nsurface_m2 = 40\nheating = gas\n"
           "[tenancy t2]\ndwelling = d1\nstart = 2020-01-01\nend = 2024-03-01\n"
           "[tenancy t3]\ndwelling = d1\nstart = 2024-03-01\n",
           "foyer.conf:10: tenancy t3 overlaps tenancy t2 (foyer.conf:6) in dwelling d1");
}

static void test_err_profiles(void **state)
{
    (void)state;
    write_file("profiles/bad.conf", "[profile]\n"
                                    "model = Broken\n"
                                    "[register e]\n"
                                    "function = input\n"
                                    "address = 0x10000\n"
                                    "type = float32\n"
                                    "quantity = electricity\n"
                                    "unit = Wh\n"
                                    "[register p]\n"
                                    "function = read\n"
                                    "type = s16\n"
                                    "address = 5\n"
                                    "quantity = power\n"
                                    "colour = red\n"
                                    "min = 10\n"
                                    "max = 5\n"
                                    "include = x.conf\n"
                                    "[register e]\n"
                                    "[meter m]\n");
    write_file("profiles/empty.conf", "; nothing\n");
    EXPECT("[building b1]\n"
           "[bus gw1]\ntype = tcp\nhost = 192.0.2.1\n"
           "[meter m1]\nprofile = bad\nbus = gw1\nunit_id = 1\nbuilding = b1\n"
           "[meter m2]\nprofile = bad\nbus = gw1\nunit_id = 2\nbuilding = b1\n"
           "[meter m3]\nprofile = sdm999\nbus = gw1\nunit_id = 3\nbuilding = b1\n"
           "[meter m4]\nprofile = ../x\nbus = gw1\nunit_id = 4\nbuilding = b1\n"
           "[meter m5]\nprofile = empty\nbus = gw1\nunit_id = 5\nbuilding = b1\n",
           "foyer.conf:16: meter m3: unknown profile \"sdm999\" (no file profiles/sdm999.conf)",
           "foyer.conf:21: bad value \"../x\" for \"profile\" in [meter m4] (expected a profile "
           "name: letters, digits, \"_\" or \"-\")",
           "profiles/bad.conf:5: bad value \"0x10000\" for \"address\" in [register e] "
           "(expected 0 to 65534, decimal or 0x hex)",
           "profiles/bad.conf:8: register e: unit \"Wh\" does not match quantity electricity "
           "(expected \"kWh\")",
           "profiles/bad.conf:10: bad value \"read\" for \"function\" in [register p] (expected "
           "one of: holding, input)",
           "profiles/bad.conf:14: unknown key \"colour\" in [register p]",
           "profiles/bad.conf:16: register p: min (10) must be less than max (5)",
           "profiles/bad.conf:17: unknown key \"include\" in [register p]",
           "profiles/bad.conf:18: duplicate register \"e\" (first defined at "
           "profiles/bad.conf:3)",
           "profiles/bad.conf:19: unknown section type \"meter\"",
           "profiles/empty.conf:1: profile empty has no [register NAME] section");
}

static void test_err_line_too_long(void **state)
{
    static char text[4096];
    char v[FOYER_CONF_LINE_MAX + 8];
    const char *prefix = "name = ";
    size_t plen = strlen(prefix);
    struct foyer_config *cfg;
    int n;

    (void)state;
    /* 300 and exactly FOYER_CONF_LINE_MAX characters pass (the first version's
     * INI library had a 200-byte line buffer of its own) */
    memset(v, 'a', sizeof(v));
    v[300 - plen] = '\0';
    n = snprintf(text, sizeof(text), "[building b1]\n%s%s\n", prefix, v);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    memset(v, 'b', sizeof(v));
    v[FOYER_CONF_LINE_MAX - plen] = '\0';
    n = snprintf(text + n, sizeof(text) - (size_t)n, "[building b2]\n%s%s", prefix, v);
    write_file("foyer.conf", text);
    cfg = load_ok(text);
    assert_int_equal(strlen(cfg->buildings[0].name), 300 - plen);
    assert_int_equal(strlen(cfg->buildings[1].name), FOYER_CONF_LINE_MAX - plen);
    config_free(cfg);

    /* one more is refused, and the next lines are still read right */
    memset(v, 'c', sizeof(v));
    v[FOYER_CONF_LINE_MAX + 1 - plen] = '\0';
    n = snprintf(text, sizeof(text), "[building b1]\n%s%s\nnme = x\n", prefix, v);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    EXPECT(text, "foyer.conf:2: line too long (max 1024 characters)",
           "foyer.conf:3: unknown key \"nme\" in [building b1]");
}

static void test_err_syntax(void **state)
{
    (void)state;
    EXPECT("[building b1\n"
           "name = x\n"
           "[building b2]\n"
           "just some words\n"
           "= value\n"
           "name = ok ; comment\n"
           "[building b3] trailing\n"
           "[]\n"
           "key = outside\n",
           "foyer.conf:1: syntax error: missing \"]\" in section header",
           "foyer.conf:4: syntax error: expected \"key = value\"",
           "foyer.conf:5: syntax error: expected \"key = value\"",
           "foyer.conf:7: syntax error: text after section header",
           "foyer.conf:8: syntax error: empty section header");
    EXPECT("name = x\n", "foyer.conf:1: key \"name\" outside any section");
    EXPECT("[building b1]\nname =\n", "foyer.conf:2: empty value for \"name\" in [building b1]");
}

static void test_err_timezone(void **state)
{
    (void)state;
    EXPECT("[foyer]\ntimezone = Europe/Pariss\n",
           "foyer.conf:2: bad time zone \"Europe/Pariss\" (no file "
           "/usr/share/zoneinfo/Europe/Pariss)");
    EXPECT("[foyer]\ntimezone = ../../etc/passwd\n",
           "foyer.conf:2: bad time zone \"../../etc/passwd\" (expected a name like "
           "Europe/Paris)");
    EXPECT("[foyer]\ntimezone = Europe\n",
           "foyer.conf:2: bad time zone \"Europe\" (no file /usr/share/zoneinfo/Europe)");
}

/* Zones: the check foyerd's start makes (tu_zone_check), with why. */
static void test_err_timezone_offsets(void **state)
{
    struct foyer_config *cfg;
    static const char *const ok[] = {"UTC", "Europe/Paris", "Europe/Dublin", "America/New_York"};
    char text[128];

    (void)state;
    EXPECT("[foyer]\ntimezone = Asia/Kolkata\n",
           "foyer.conf:2: time zone \"Asia/Kolkata\" is not usable: its offset UTC+05:30 is not a "
           "whole number of hours, and foyer needs whole-hour offsets (hourly figures are "
           "stored per UTC hour, which must also be a local hour)");
    EXPECT("[foyer]\ntimezone = Asia/Kathmandu\n",
           "foyer.conf:2: time zone \"Asia/Kathmandu\" is not usable: its offset UTC+05:45 is not "
           "a whole number of hours, and foyer needs whole-hour offsets (hourly figures are "
           "stored per UTC hour, which must also be a local hour)");
    EXPECT("[foyer]\ntimezone = America/St_Johns\n",
           "foyer.conf:2: time zone \"America/St_Johns\" is not usable: its offset UTC-02:30 is "
           "not a whole number of hours, and foyer needs whole-hour offsets (hourly figures are "
           "stored per UTC hour, which must also be a local hour)");
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        (void)snprintf(text, sizeof(text), "[foyer]\ntimezone = %s\n", ok[i]);
        write_file("foyer.conf", text);
        cfg = load_ok(text);
        assert_string_equal(cfg->timezone, ok[i]);
        config_free(cfg);
        /* the check and the start agree */
        assert_int_equal(tu_zone_check(ok[i], NULL), 0);
    }
    assert_int_equal(tu_zone_check("Asia/Kolkata", NULL), -EDOM);
    assert_int_equal(tu_set_zone("Asia/Kolkata"), -EINVAL);
}

/* A TZif file (RFC 8536) of version 2 with one local time type of offset
 * UTOFF, no transition, and the footer TZ string FOOTER: the shape of a
 * "slim" zone file, where only the footer rules the years after 2000. */
static void write_tzif(const char *rel, int32_t utoff, const char *footer)
{
    unsigned char b[256];
    size_t n = 0;
    FILE *f;

    for (int v = 0; v < 2; v++) {
        static const uint32_t counts[6] = {0, 0, 0, 0, 1, 4}; /* isut..charcnt */
        memcpy(b + n, "TZif2", 5);
        memset(b + n + 5, 0, 15);
        n += 20;
        for (int i = 0; i < 6; i++) {
            b[n++] = (unsigned char)(counts[i] >> 24);
            b[n++] = (unsigned char)(counts[i] >> 16);
            b[n++] = (unsigned char)(counts[i] >> 8);
            b[n++] = (unsigned char)counts[i];
        }
        b[n++] = (unsigned char)((uint32_t)utoff >> 24);
        b[n++] = (unsigned char)((uint32_t)utoff >> 16);
        b[n++] = (unsigned char)((uint32_t)utoff >> 8);
        b[n++] = (unsigned char)utoff;
        b[n++] = 0; /* isdst */
        b[n++] = 0; /* desigidx */
        memcpy(b + n, "ZZZ", 4);
        n += 4;
    }
    n += (size_t)snprintf((char *)b + n, sizeof(b) - n, "\n%s\n", footer);
    write_file(rel, "");
    f = fopen(rel, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_err_timezone_files(void **state)
{
    char dir[PATH_MAX];
    int32_t off = 0;

    (void)state;
    assert_non_null(getcwd(dir, sizeof(dir)));
    write_tzif("zones/Whole", 3600, "CET-1CEST,M3.5.0,M10.5.0/3");
    write_tzif("zones/Half", 19800, "IST-5:30");
    write_tzif("zones/LaterHalf", 3600, "<+0130>-1:30");
    write_tzif("zones/HalfSummer", 3600, "XST-1XDT-1:30,M3.5.0,M10.5.0/3");
    write_file("zones/Text", "not a zone\n");
    assert_int_equal(setenv("TZDIR", "zones", 1), 0);
    assert_int_equal(tu_zone_check("Whole", NULL), 0);
    assert_int_equal(tu_zone_check("Half", &off), -EDOM);
    assert_int_equal(off, 19800);
    assert_int_equal(tu_zone_check("LaterHalf", &off), -EDOM);
    assert_int_equal(off, 5400);
    assert_int_equal(tu_zone_check("HalfSummer", &off), -EDOM);
    assert_int_equal(off, 5400);
    assert_int_equal(tu_zone_check("Text", NULL), -EBADMSG);
    EXPECT("[foyer]\ntimezone = Text\n",
           "foyer.conf:2: bad time zone \"Text\" (zones/Text is not a time zone file)");
    EXPECT("[foyer]\ntimezone = LaterHalf\n",
           "foyer.conf:2: time zone \"LaterHalf\" is not usable: its offset UTC+01:30 is not a "
           "whole number of hours, and foyer needs whole-hour offsets (hourly figures are "
           "stored per UTC hour, which must also be a local hour)");
    assert_int_equal(unsetenv("TZDIR"), 0);
}

/* An include or a profile that is a FIFO is refused before any read (it
 * blocked the load, and SIGTERM with it).  alarm() makes a regression fail
 * instead of hanging the suite. */
static void test_err_fifo(void **state)
{
    (void)state;
    assert_int_equal(mkdir("conf.d", 0755), 0);
    assert_int_equal(mkfifo("conf.d/20-fifo.conf", 0644), 0);
    assert_int_equal(mkdir("conf.d/30-dir.conf", 0755), 0);
    assert_int_equal(mkdir("profiles", 0755), 0);
    assert_int_equal(mkfifo("profiles/fifo.conf", 0644), 0);
    alarm(10);
    EXPECT("[building b1]\n"
           "include = conf.d/*.conf\n"
           "[bus gw1]\ntype = tcp\nhost = 192.0.2.1\n"
           "[meter m1]\nprofile = fifo\nbus = gw1\nunit_id = 1\nbuilding = b1\n",
           "foyer.conf:2: cannot open include \"conf.d/20-fifo.conf\": not a regular file (a "
           "FIFO, socket or device)",
           "foyer.conf:2: cannot open include \"conf.d/30-dir.conf\": Is a directory",
           "foyer.conf:7: meter m1: cannot read profile \"fifo\" (profiles/fifo.conf: not a "
           "regular file (a FIFO, socket or device))");
    /* the main file too */
    {
        struct conf_errors e;
        assert_int_equal(mkfifo("main.fifo", 0644), 0);
        assert_null(config_load("main.fifo", &e));
        assert_int_equal(e.n, 1);
        assert_string_equal(
            e.msgs[0], "main.fifo: cannot open: not a regular file (a FIFO, socket or device)");
        conf_errors_free(&e);
    }
    alarm(0);
}

/* What foyerd refused only when it started is refused by the check. */
static void test_err_start_refusals(void **state)
{
    (void)state;
    write_file("secret.pw", "x\n");
    assert_int_equal(mkdir("data", 0755), 0);
    write_file("plain", "");
    /* meters: polls 1 s apart; a gateway by name (libmodbus: IPv4 only) */
    EXPECT("[building b1]\n"
           "[bus gw1]\ntype = tcp\nhost = gw.example\n"
           "[bus gw2]\ntype = tcp\nhost = ::1\n"
           "[meter m1]\nprofile = p\nbus = gw1\nunit_id = 1\nbuilding = b1\ninterval = 1\n",
           "foyer.conf:4: bad value \"gw.example\" for \"host\" in [bus gw1] (expected an IPv4 "
           "address like 192.0.2.10)",
           "foyer.conf:7: bad value \"::1\" for \"host\" in [bus gw2] (expected an IPv4 address "
           "like 192.0.2.10)",
           "foyer.conf:9: meter m1: unknown profile \"p\" (no file profiles/p.conf)",
           "foyer.conf:13: meter m1: interval 1 s is too short (at least 2 s: readings are "
           "stamped to the second, and two polls jittered less than a second apart would share "
           "one)");
    /* the database: a directory, or below a file */
    EXPECT("[foyer]\ndatabase = data\n",
           "foyer.conf:2: database \"data\" is a directory: name the database file in it, e.g. "
           "data/foyer.db");
    EXPECT("[foyer]\ndatabase = plain/foyer.db\n",
           "foyer.conf:2: database \"plain/foyer.db\": a part of the path is a file, not a "
           "directory");
    /* MQTT: what libmosquitto refuses, and the files the client reads */
    EXPECT("[building b1]\n"
           "[mqtt]\n"
           "client_id = gw\xff\n"
           "username = a\x1b[2Jb\n"
           "password_file = missing.pw\n"
           "tls = true\n"
           "ca_file = missing-ca.pem\n"
           "cert_file = secret.pw\n"
           "key_file = data\n"
           "[sensor s]\ntopic = a/\xc3\n"
           "building = b1\npreset = tasmota\n",
           "foyer.conf:3: bad value \"gw\\xFF\" for \"client_id\" in [mqtt] (expected UTF-8 text "
           "without control characters)",
           "foyer.conf:4: bad value \"a\\x1B[2Jb\" for \"username\" in [mqtt] (expected UTF-8 text "
           "without control characters)",
           "foyer.conf:5: mqtt: password_file \"missing.pw\": No such file or directory",
           "foyer.conf:7: mqtt: ca_file \"missing-ca.pem\": No such file or directory",
           "foyer.conf:9: mqtt: key_file \"data\" is not a regular file",
           "foyer.conf:11: bad value \"a/\\xC3\" for \"topic\" in [sensor s] (expected an MQTT "
           "topic in UTF-8, without control characters)");
    /* files foyerd does not read are not checked: a password without a
     * user name, certificates without TLS */
    {
        static const char text[] = "[mqtt]\npassword_file = missing.pw\nca_file = missing.pem\n"
                                   "client_id = gw-\xc3\xa9\n";
        struct foyer_config *cfg;
        write_file("foyer.conf", text);
        cfg = load_ok(text);
        config_free(cfg);
    }
    /* push: the token and CA files */
    EXPECT("[push]\nurl = https://a.example/\ntoken_file = missing.token\n"
           "[push p2]\nurl = https://b.example/\nca_file = missing.pem\ntoken_file = secret.pw\n",
           "foyer.conf:3: push: token_file \"missing.token\": No such file or directory",
           "foyer.conf:6: push p2: ca_file \"missing.pem\": No such file or directory");
}

static void test_err_main_missing(void **state)
{
    struct conf_errors e;
    (void)state;
    assert_null(config_load("nope.conf", &e));
    assert_int_equal(e.n, 1);
    assert_string_equal(e.msgs[0], "nope.conf: cannot open: No such file or directory");
    conf_errors_free(&e);
    conf_errors_free(&e); /* idempotent */
    config_free(NULL);
}

/* What conf_read_ini() hands over, one line of text per call, for
 * test_ini_reader to compare. */
struct ini_trace {
    char text[2048];
    size_t len;
    bool refuse_b; /* refuse "[b]" headers */
};

static void trace_add(struct ini_trace *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void trace_add(struct ini_trace *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(t->text + t->len, sizeof(t->text) - t->len, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(t->text) - t->len);
    t->len += (size_t)n;
}

static bool trace_section(void *ctx, const struct conf_ini_header *h, const struct conf_pos *pos)
{
    struct ini_trace *t = ctx;
    trace_add(t, "%d [%s|%s|%s]\n", pos->line, h->type, h->id ? h->id : "-",
              h->extra ? "extra" : "");
    return !(t->refuse_b && strcmp(h->type, "b") == 0);
}

static void trace_key(void *ctx, const char *key, const char *value, const struct conf_pos *pos)
{
    trace_add(ctx, "%d <%s>=<%s>\n", pos->line, key, value);
}

static void trace_error(void *ctx, const struct conf_pos *pos, const char *msg)
{
    trace_add(ctx, "%s:%d: %s\n", pos->file, pos->line, msg);
}

/* The one INI reader: every header is handed over (empty or repeated), keys
 * keep their line, every problem is reported and the reading goes on, a
 * refused header skips its keys. */
static void test_ini_reader(void **state)
{
    static const struct conf_ini_handler h = {trace_section, trace_key, trace_error};
    struct ini_trace t = {.refuse_b = true};
    char text[4096], longv[FOYER_CONF_LINE_MAX + 2];
    int n;

    (void)state;
    memset(longv, 'x', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    n = snprintf(text, sizeof(text),
                 "\xEF\xBB\xBF; comment\n"
                 "top = 1\n"
                 "[a]\n"
                 "[a]\n"
                 "  k1 = v ; inline comment\n"
                 "k2: a=b;c # not a comment\r\n"
                 "k3 =\n"
                 "[b x]\n"
                 "skipped = yes\n"
                 "[c  x y] ; comment\n"
                 "\t# comment\n"
                 "%s\n"
                 "words\n"
                 "= v\n"
                 "[d\n"
                 "[e] text\n"
                 "[ ]\n"
                 "ignored = 1\n"
                 "[f]\n"
                 "last = 1",
                 longv);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    write_file("t.ini", text);
    assert_int_equal(conf_read_ini("t.ini", &h, &t), 0);
    assert_string_equal(t.text, "2 <top>=<1>\n"
                                "3 [a|-|]\n"
                                "4 [a|-|]\n"
                                "5 <k1>=<v>\n"
                                "6 <k2>=<a=b;c # not a comment>\n"
                                "7 <k3>=<>\n"
                                "8 [b|x|]\n"
                                "10 [c|x|extra]\n"
                                "t.ini:12: line too long (max 1024 characters)\n"
                                "t.ini:13: syntax error: expected \"key = value\"\n"
                                "t.ini:14: syntax error: expected \"key = value\"\n"
                                "t.ini:15: syntax error: missing \"]\" in section header\n"
                                "t.ini:16: syntax error: text after section header\n"
                                "t.ini:17: syntax error: empty section header\n"
                                "19 [f|-|]\n"
                                "20 <last>=<1>\n");

    /* a missing file is reported as the file's, line 0 */
    t.len = 0;
    assert_int_equal(conf_read_ini("missing.ini", &h, &t), -ENOENT);
    assert_string_equal(t.text, "missing.ini:0: cannot open: No such file or directory\n");
}

/* Write the language files of "xx" (tips and words) in the current
 * directory and load them, returning what summary_lang_load() did. */
static int lang_load(const char *tips, const char *words, struct conf_errors *errs)
{
    struct summary_lang *l = NULL;
    int rc;

    write_file("tips.xx.conf", tips);
    write_file("summary.xx.conf", words);
    rc = summary_lang_load(".", "xx", &l, errs);
    summary_lang_free(l);
    return rc;
}

/* The language files go through the config's reader, with its rules: a tip
 * defined twice in a row, an empty or unknown section are reported (the
 * first reader only saw sections through their keys), the keys of a refused
 * section are skipped, lines are as long as in foyer.conf. */
static void test_lang_files(void **state)
{
    struct conf_errors e = {0};
    char tips[2 * FOYER_CONF_LINE_MAX], text[FOYER_CONF_LINE_MAX + 2];
    int n;

    (void)state;
    assert_int_equal(lang_load("[tip a]\ncondition = dju > 1\npriority = 1\ntext = t\n"
                               "[tip a]\ncondition = dju > 2\npriority = 2\ntext = u\n"
                               "[tip b]\n",
                               "[strings]\nk = v\n[bogus]\n", &e),
                     -EINVAL);
    if (e.n != 5)
        print_errors("language files", &e);
    assert_int_equal(e.n, 5);
    assert_string_equal(e.msgs[0], "./tips.xx.conf:5: tip a defined twice (first at line 1)");
    assert_string_equal(e.msgs[1],
                        "./summary.xx.conf:3: unknown section [bogus]: expected [strings] or "
                        "[format]");
    assert_string_equal(e.msgs[2], "./tips.xx.conf:9: tip b: condition is required");
    assert_string_equal(e.msgs[3], "./tips.xx.conf:9: tip b: priority is required");
    assert_string_equal(e.msgs[4], "./tips.xx.conf:9: tip b: text is required");
    conf_errors_free(&e);

    /* a text of FOYER_CONF_LINE_MAX characters is read, one more refused */
    memset(text, 'x', sizeof(text));
    text[FOYER_CONF_LINE_MAX - strlen("text = ")] = '\0';
    n = snprintf(tips, sizeof(tips), "[tip a]\ncondition = 1\npriority = 1\ntext = %s\n", text);
    assert_true(n > 0 && (size_t)n < sizeof(tips));
    n = lang_load(tips, "[strings]\n", &e);
    if (n != 0)
        print_errors("a long text", &e);
    assert_int_equal(n, 0);
    text[FOYER_CONF_LINE_MAX - strlen("text = ")] = 'x';
    text[FOYER_CONF_LINE_MAX + 1 - strlen("text = ")] = '\0';
    n = snprintf(tips, sizeof(tips), "[tip a]\ncondition = 1\npriority = 1\ntext = %s\n", text);
    assert_true(n > 0 && (size_t)n < sizeof(tips));
    assert_int_equal(lang_load(tips, "[strings]\n", &e), -EINVAL);
    assert_true(e.n >= 1);
    assert_string_equal(e.msgs[0], "./tips.xx.conf:4: line too long (max 1024 characters)");
    conf_errors_free(&e);
}

/* Secrets (password_file, token_file): the first line, whole, without its
 * line ending; an empty or over-long one refused, never cut; a FIFO refused
 * without waiting for a writer. */
static void test_read_secret(void **state)
{
    char buf[8];

    (void)state;
    write_file("s1", "p w;#=\r\nsecond line\n");
    memset(buf, '?', sizeof(buf));
    assert_int_equal(conf_read_secret("s1", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "p w;#=");
    write_file("s2", "1234567");
    assert_int_equal(conf_read_secret("s2", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1234567");
    write_file("s2", "7654321\r\n");
    assert_int_equal(conf_read_secret("s2", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "7654321");

    memset(buf, '?', sizeof(buf));
    write_file("s3", "12345678\n");
    assert_int_equal(conf_read_secret("s3", buf, sizeof(buf)), -EMSGSIZE);
    write_file("s3", "12345678");
    assert_int_equal(conf_read_secret("s3", buf, sizeof(buf)), -EMSGSIZE);
    write_file("s4", "\nsecret on line 2\n");
    assert_int_equal(conf_read_secret("s4", buf, sizeof(buf)), -ENODATA);
    write_file("s5", "");
    assert_int_equal(conf_read_secret("s5", buf, sizeof(buf)), -ENODATA);
    assert_int_equal(conf_read_secret("missing", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(mkfifo("fifo", 0600), 0);
    assert_int_equal(conf_read_secret("fifo", buf, sizeof(buf)), -EINVAL);
    assert_memory_equal(buf, "????????", sizeof(buf)); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shipped_example, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dump_round_trip, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_include_split, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_include_no_match_and_errors_in_included, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_include_unreadable, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_include_loop, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_meter_channels, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_sensor_presets, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_sensor_wildcard_devices, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_sensor_devices, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_channels_and_defaults, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_other_sections, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_empty_section_and_bom, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_unknown_section, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_unknown_key, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_missing_required, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_bad_values, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_duplicates, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_references, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_tenancy_dates, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_profiles, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_line_too_long, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_syntax, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_timezone, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_timezone_offsets, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_timezone_files, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_fifo, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_start_refusals, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_err_main_missing, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_ini_reader, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_lang_files, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_read_secret, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
