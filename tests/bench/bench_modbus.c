/*
 * bench_modbus.c - Modbus polling figures (issue 4), against foyer-modbus-sim
 * on loopback.  Prints figures, never fails on time.
 *
 *   1. 100 meters on one TCP gateway, 10 registers each (SDM630 map): a bare
 *      libmodbus loop doing the same merged requests as the driver (the
 *      floor: one request of 76 registers per meter), and one
 *      request per value (what collectd does); then the driver in process:
 *      poll cycle time and its overhead above the bare loop.
 *   2. One dead meter among the 100: how much longer a cycle takes, against
 *      the response timeout.
 *   3. foyerd itself (writer and SQLite included) polling the 100 meters
 *      every second: CPU per stored value and resident memory; then foyerd's
 *      resident memory with 500 meters configured (3 buses).
 *   4. collectd's modbus plugin (if /usr/lib/collectd/modbus.so exists)
 *      polling the same meters for the same registers, storing to CSV: CPU
 *      per stored value and resident memory.
 *
 * Usage: bench_modbus BUILD_DIR   (BUILD_DIR has foyerd and tests/foyer-modbus-sim)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>
#include <sqlite3.h>

#include "foyer/config.h"
#include "foyer/drv_modbus.h"
#include "foyer/log.h"

#define METERS         100
#define REGS_PER_METER 10
#define TIMEOUT_MS     500
#define CYCLES_MAX     64

static char tmp[256];
static const char *bindir;
static int sim_port;
static pid_t sim_pid;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double cpu_self_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of a process, in seconds (clock-tick resolution). */
static double cpu_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS or VmHWM of a process, in KiB. */
static long mem_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, strlen(field)) == 0)
            kib = atol(line + strlen(field) + 1);
    fclose(f);
    return kib;
}

static pid_t spawn(char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void stop_child(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void sim_command(const char *cmd)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/sim.ctl", tmp);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", cmd);
        fclose(f);
    }
    sleep_ms(200);
}

/* The 10 registers of each meter: SDM630 L1..L3 voltage, current, L1 power,
 * total power, import and export energy. */
static const struct {
    const char *name;
    int address;
    const char *quantity;
} bench_regs[REGS_PER_METER] = {
    {"v1", 0x00, "voltage"},
    {"v2", 0x02, "voltage"},
    {"v3", 0x04, "voltage"},
    {"i1", 0x06, "current"},
    {"i2", 0x08, "current"},
    {"i3", 0x0A, "current"},
    {"p1", 0x0C, "power"},
    {"power", 0x34, "power"},
    {"energy_import", 0x48, "electricity"},
    {"energy_export", 0x4A, "electricity"},
};

static void write_profile(void)
{
    char path[300], text[4096];
    size_t off = 0;
    snprintf(path, sizeof(path), "%s/profiles", tmp);
    mkdir(path, 0755);
    off += (size_t)snprintf(text + off, sizeof(text) - off, "[profile]\nmodel = bench SDM630\n");
    for (int i = 0; i < REGS_PER_METER; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off,
                                "[register %s]\nfunction = input\naddress = %d\ntype = float32\n"
                                "quantity = %s\n",
                                bench_regs[i].name, bench_regs[i].address, bench_regs[i].quantity);
    snprintf(path, sizeof(path), "%s/profiles/bench10.conf", tmp);
    write_file(path, text);
}

/* A config: n_meters spread over buses of at most 200 units, all on the
 * simulator's port. */
static const char *foyer_extra = ""; /* more [foyer] keys for the next config */

static void write_config(const char *name, int n_meters, int interval_s)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f,
            "[foyer]\ndatabase = %s/%s.db\ntimezone = Europe/Paris\nprofiles_dir = %s/profiles\n"
            "log_level = warning\n%s[building b1]\n",
            tmp, name, tmp, foyer_extra);
    for (int b = 0; b * 200 < n_meters; b++)
        fprintf(f, "[bus gw%d]\ntype = tcp\nhost = 127.0.0.1\nport = %d\ntimeout_ms = %d\n", b,
                sim_port, TIMEOUT_MS);
    for (int m = 0; m < n_meters; m++)
        fprintf(f,
                "[meter m%d]\nprofile = bench10\nbus = gw%d\nunit_id = %d\nbuilding = b1\n"
                "interval = %d\n",
                m, m / 200, m % 200 + 1, interval_s);
    fclose(f);
}

/* ---- 1. bare libmodbus loops ------------------------------------------- */

struct bare_result {
    double cycle_ms; /* mean over the cycles */
    double cpu_us_value;
    int requests; /* per cycle */
};

/* cycles spaced by spacing_ms (like the driver's schedule: a cycle starts on
 * an idle gateway), or back to back with 0. */
static int bare_loop(const struct profile *prof, bool merged, int cycles, int spacing_ms,
                     struct bare_result *ret)
{
    struct drv_modbus_plan *plan;
    if (drv_modbus_plan_build(prof, merged ? DRV_MODBUS_PLAN_GAP_TCP : 0, &plan) < 0)
        return -1;
    modbus_t *mb = modbus_new_tcp("127.0.0.1", sim_port);
    modbus_set_response_timeout(mb, 0, TIMEOUT_MS * 1000);
    if (modbus_connect(mb) < 0) {
        modbus_free(mb);
        drv_modbus_plan_free(plan);
        return -1;
    }
    uint16_t words[256];
    int n_req = 0;
    /* One request per value: a plan with no merging at all. */
    struct drv_modbus_request single[REGS_PER_METER];
    const struct drv_modbus_request *reqs = plan->reqs;
    size_t n = plan->n_reqs;
    if (!merged) {
        for (size_t i = 0; i < prof->n_regs; i++)
            single[i] = (struct drv_modbus_request){REG_INPUT, prof->regs[i].address, 2, 0};
        reqs = single;
        n = prof->n_regs;
    }
    double total = 0, cpu0 = cpu_self_s(), start = now_ms();
    for (int c = 0; c < cycles; c++) {
        double wait = start + c * spacing_ms - now_ms();
        if (wait > 0)
            sleep_ms((int)wait);
        double t0 = now_ms();
        n_req = 0;
        for (int m = 1; m <= METERS; m++) {
            modbus_set_slave(mb, m);
            for (size_t i = 0; i < n; i++, n_req++)
                if (modbus_read_input_registers(mb, reqs[i].address, reqs[i].count, words) < 0)
                    fprintf(stderr, "bare loop: unit %d: %s\n", m, modbus_strerror(errno));
        }
        total += now_ms() - t0;
    }
    ret->cycle_ms = total / cycles;
    ret->cpu_us_value = (cpu_self_s() - cpu0) * 1e6 / ((double)cycles * METERS * REGS_PER_METER);
    ret->requests = n_req;
    modbus_close(mb);
    modbus_free(mb);
    drv_modbus_plan_free(plan);
    return 0;
}

/* ---- 2. the driver in process ------------------------------------------ */

struct sink {
    atomic_long n;
    long per_cycle;
    double first[CYCLES_MAX], last[CYCLES_MAX];
};

static bool sink_emit(void *ctx, const struct reading *r)
{
    struct sink *s = ctx;
    (void)r;
    double t = now_ms();
    long i = atomic_fetch_add(&s->n, 1);
    long c = i / s->per_cycle;
    if (c < CYCLES_MAX) {
        if (i % s->per_cycle == 0)
            s->first[c] = t;
        s->last[c] = t;
    }
    return true;
}

static void sink_event(void *ctx, const char *device, int64_t ts_s, const char *kind,
                       const char *detail)
{
    (void)ctx, (void)device, (void)ts_s, (void)kind, (void)detail;
}

static void sink_health(void *ctx, const struct device_health *h)
{
    (void)ctx, (void)h;
}

/* Run the driver for `cycles` poll cycles; mean cycle time in ms, measured
 * from the first value of a cycle to its last, scaled by n/(n-1) meters for
 * the first meter's own requests.  Cycle 0 (connection set-up) is skipped. */
static double driver_cycles(const struct foyer_config *cfg, long per_cycle, int cycles,
                            int n_meters_polled, double *ret_cpu_us_value)
{
    struct sink s = {.per_cycle = per_cycle};
    atomic_init(&s.n, 0);
    struct driver_env env = {
        .cfg = cfg, .emit = sink_emit, .event = sink_event, .health = sink_health, .sink_ctx = &s};
    int err = 0;
    double cpu0 = cpu_self_s();
    void *drv = drv_modbus_ops.open(&env, &err);
    if (!drv || drv_modbus_ops.start(drv) < 0) {
        fprintf(stderr, "driver: cannot start: %s\n", strerror(-err));
        drv_modbus_ops.close(drv);
        return -1;
    }
    double deadline = now_ms() + (cycles + 2) * cfg->meters[0].interval_s * 1000.0 + 5000;
    while (atomic_load(&s.n) < per_cycle * (cycles + 1) && now_ms() < deadline)
        sleep_ms(20);
    drv_modbus_ops.close(drv);
    if (ret_cpu_us_value)
        *ret_cpu_us_value = (cpu_self_s() - cpu0) * 1e6 / (double)atomic_load(&s.n);
    double total = 0;
    int done = 0;
    for (int c = 1; c <= cycles && c < CYCLES_MAX; c++) {
        if (s.last[c] <= s.first[c])
            continue;
        total += (s.last[c] - s.first[c]) * n_meters_polled / (n_meters_polled - 1);
        done++;
    }
    return done ? total / done : -1;
}

/* ---- 3, 4. foyerd and collectd processes -------------------------------- */

static long db_count(const char *db_path)
{
    sqlite3 *db;
    long n = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM readings", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static long csv_count(const char *dir)
{
    char cmd[512];
    long n = -1;
    snprintf(cmd, sizeof(cmd), "find %s -type f -exec cat {} + 2>/dev/null | grep -vc '^epoch'",
             dir);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (fscanf(p, "%ld", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

struct proc_result {
    double cpu_us_value;
    double values_s;
    long rss_kib, hwm_kib;
    long anon_kib; /* RssAnon: private memory, without shared library pages */
};

/* Measure a running process over window_s after warmup_s. */
static void measure(pid_t pid, long (*count)(const char *), const char *what, int warmup_s,
                    int window_s, struct proc_result *ret)
{
    sleep_ms(warmup_s * 1000);
    double c0 = cpu_of(pid), t0 = now_ms();
    long v0 = count(what);
    sleep_ms(window_s * 1000);
    double c1 = cpu_of(pid), t1 = now_ms();
    long v1 = count(what);
    ret->values_s = (double)(v1 - v0) * 1000 / (t1 - t0);
    ret->cpu_us_value = v1 > v0 ? (c1 - c0) * 1e6 / (double)(v1 - v0) : -1;
    ret->rss_kib = mem_kib(pid, "VmRSS");
    ret->hwm_kib = mem_kib(pid, "VmHWM");
    ret->anon_kib = mem_kib(pid, "RssAnon");
}

static pid_t start_foyerd(const char *conf_name)
{
    char conf[300], log[300];
    snprintf(conf, sizeof(conf), "%s/%s", tmp, conf_name);
    snprintf(log, sizeof(log), "%s/%s.log", tmp, conf_name);
    char exe[300];
    snprintf(exe, sizeof(exe), "%s/foyerd", bindir);
    char *argv[] = {exe, "--config", conf, NULL};
    return spawn(argv, log);
}

static int collectd_bench(struct proc_result *ret)
{
    const char *plugin = "/usr/lib/collectd/modbus.so";
    if (access(plugin, R_OK) != 0 || access("/usr/sbin/collectd", X_OK) != 0)
        return -1;
    char path[300], csv[300];
    snprintf(path, sizeof(path), "%s/collectd.conf", tmp);
    snprintf(csv, sizeof(csv), "%s/csv", tmp);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "Hostname \"bench\"\nFQDNLookup false\nInterval 1\nTypesDB "
            "\"/usr/share/collectd/types.db\"\nPIDFile \"%s/collectd.pid\"\n"
            "LoadPlugin modbus\nLoadPlugin csv\n<Plugin csv>\n  DataDir \"%s\"\n"
            "  StoreRates false\n</Plugin>\n<Plugin modbus>\n",
            tmp, csv);
    for (int i = 0; i < REGS_PER_METER; i++) {
        const char *type =
            strcmp(bench_regs[i].quantity, "electricity") == 0 ? "energy" : bench_regs[i].quantity;
        fprintf(f,
                "  <Data \"%s\">\n    RegisterBase %d\n    RegisterCmd ReadInput\n"
                "    RegisterType Float\n    Type \"%s\"\n    Instance \"%s\"\n  </Data>\n",
                bench_regs[i].name, bench_regs[i].address, type, bench_regs[i].name);
    }
    fprintf(f, "  <Host \"gw\">\n    Address \"127.0.0.1\"\n    Port \"%d\"\n    Interval 1\n",
            sim_port);
    for (int m = 1; m <= METERS; m++) {
        fprintf(f, "    <Slave %d>\n      Instance \"m%d\"\n", m, m);
        for (int i = 0; i < REGS_PER_METER; i++)
            fprintf(f, "      Collect \"%s\"\n", bench_regs[i].name);
        fprintf(f, "    </Slave>\n");
    }
    fprintf(f, "  </Host>\n</Plugin>\n");
    fclose(f);
    char log[300];
    snprintf(log, sizeof(log), "%s/collectd.log", tmp);
    char *argv[] = {"/usr/sbin/collectd", "-f", "-C", path, NULL};
    pid_t pid = spawn(argv, log);
    measure(pid, csv_count, csv, 3, 10, ret);
    stop_child(pid);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_modbus BUILD_DIR\n");
        return 2;
    }
    bindir = argv[1];
    log_init("bench_modbus");
    log_set_level(LOG_LVL_ERR);
    snprintf(tmp, sizeof(tmp), "/tmp/foyer-bench-mb-XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    write_profile();

    /* The simulator: units 1..200 as SDM630s, on a free port. */
    char exe[300], port_file[300], ctl[300], log[300];
    snprintf(exe, sizeof(exe), "%s/tests/foyer-modbus-sim", bindir);
    snprintf(port_file, sizeof(port_file), "%s/sim.port", tmp);
    snprintf(ctl, sizeof(ctl), "%s/sim.ctl", tmp);
    snprintf(log, sizeof(log), "%s/sim.log", tmp);
    char *sargv[] = {exe,           "--tcp",   "0",         "--meters", "1-200:sdm630",
                     "--port-file", port_file, "--control", ctl,        NULL};
    sim_pid = spawn(sargv, log);
    for (int i = 0; i < 100 && sim_port == 0; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            if (fscanf(f, "%d", &sim_port) != 1)
                sim_port = 0;
            fclose(f);
        }
        if (!sim_port)
            sleep_ms(50);
    }
    if (!sim_port) {
        fprintf(stderr, "bench_modbus: the simulator did not start\n");
        return 1;
    }

    write_config("bench100.conf", METERS, 1);
    char conf[300];
    snprintf(conf, sizeof(conf), "%s/bench100.conf", tmp);
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(conf, &errs);
    if (!cfg) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        return 1;
    }
    const struct profile *prof = &cfg->profiles[cfg->meters[0].profile];

    struct bare_result merged, single;
    bare_loop(prof, true, 3, 0, &merged); /* warm-up */
    bare_loop(prof, false, 10, 0, &single);
    bare_loop(prof, true, 10, 0, &merged);
    double back_to_back_ms = merged.cycle_ms;
    bare_loop(prof, true, 5, 1000, &merged);
    printf("100 meters x 10 registers on one TCP gateway (simulator on loopback):\n");
    printf("  bare libmodbus loop, merged requests: %d requests/cycle, cycle %.1f ms every "
           "second (%.1f ms back to back), %.2f us CPU/value\n",
           merged.requests, merged.cycle_ms, back_to_back_ms, merged.cpu_us_value);
    printf("  bare libmodbus loop, one request per value: %d requests/cycle, cycle %.1f ms, "
           "%.2f us CPU/value\n",
           single.requests, single.cycle_ms, single.cpu_us_value);

    double drv_cpu = 0;
    double cycle = driver_cycles(cfg, METERS * REGS_PER_METER, 5, METERS, &drv_cpu);
    printf("  foyer driver (in process, every second): cycle %.1f ms, overhead above the bare "
           "loop %+.1f %%\n",
           cycle, (cycle / merged.cycle_ms - 1) * 100);
    printf("  foyer driver CPU: %.2f us per value (requests, decoding, schedule; no storage)\n",
           drv_cpu);

    sim_command("silent 50");
    double dead = driver_cycles(cfg, (METERS - 1) * REGS_PER_METER, 3, METERS - 1, NULL);
    sim_command("answer 50");
    printf("  one dead meter among 100: cycle %.1f ms, +%.1f ms (response timeout %d ms: "
           "%.2f timeouts)\n",
           dead, dead - cycle, TIMEOUT_MS, (dead - cycle) / TIMEOUT_MS);
    config_free(cfg);

    /* foyerd itself, polling every second, storing in SQLite. */
    write_config("foyerd100.conf", METERS, 1);
    pid_t fp = start_foyerd("foyerd100.conf");
    char db[300];
    snprintf(db, sizeof(db), "%s/foyerd100.conf.db", tmp);
    struct proc_result fr = {0};
    measure(fp, db_count, db, 4, 15, &fr);
    stop_child(fp);
    printf("foyerd, 100 meters x 10 registers every second (values stored in SQLite):\n");
    printf("  %.0f values/s stored, %.2f us CPU per stored value, RSS %ld KiB (peak %ld KiB, "
           "anonymous %ld KiB)\n",
           fr.values_s, fr.cpu_us_value, fr.rss_kib, fr.hwm_kib, fr.anon_kib);

    /* Resident memory without meters, and with 500 meters whose gateway is
     * not there (configured, nothing stored), to tell the parts apart. */
    write_config("foyerd0.conf", 0, 5);

    /* The same with 10 s batches: each channel's rollup rows are updated once
     * per batch, so longer batches spread that cost over more readings. */
    foyer_extra = "batch_deadline_ms = 10000\n";
    write_config("foyerd100b.conf", METERS, 1);
    foyer_extra = "";
    fp = start_foyerd("foyerd100b.conf");
    snprintf(db, sizeof(db), "%s/foyerd100b.conf.db", tmp);
    struct proc_result fb = {0};
    measure(fp, db_count, db, 12, 20, &fb);
    stop_child(fp);
    printf("  with batch_deadline_ms = 10000: %.0f values/s stored, %.2f us CPU per stored value\n",
           fb.values_s, fb.cpu_us_value);
    fp = start_foyerd("foyerd0.conf");
    struct proc_result f0 = {0};
    measure(fp, db_count, "", 2, 0, &f0);
    stop_child(fp);
    int port = sim_port;
    sim_port = 1; /* nothing listens on port 1: connection refused */
    write_config("foyerd500idle.conf", 500, 5);
    sim_port = port;
    fp = start_foyerd("foyerd500idle.conf");
    struct proc_result fi = {0};
    measure(fp, db_count, "", 3, 0, &fi);
    stop_child(fp);
    printf("foyerd resident memory: no meter %.1f MiB (anonymous %.1f MiB, the rest shared "
           "library pages); 500 meters configured, gateway absent %.1f MiB (anonymous %.1f MiB)\n",
           (double)f0.rss_kib / 1024, (double)f0.anon_kib / 1024, (double)fi.rss_kib / 1024,
           (double)fi.anon_kib / 1024);

    write_config("foyerd500.conf", 500, 5);
    /* 500 meters need units 1..200 on three buses: the simulator serves 200. */
    fp = start_foyerd("foyerd500.conf");
    snprintf(db, sizeof(db), "%s/foyerd500.conf.db", tmp);
    struct proc_result f5 = {0};
    measure(fp, db_count, db, 6, 5, &f5);
    stop_child(fp);
    printf("foyerd, 500 meters polled (3 buses, every 5 s): RSS %.1f MiB (peak %.1f MiB, "
           "anonymous %.1f MiB), %.0f values/s\n",
           (double)f5.rss_kib / 1024, (double)f5.hwm_kib / 1024, (double)f5.anon_kib / 1024,
           f5.values_s);

    struct proc_result cr = {0};
    if (collectd_bench(&cr) == 0) {
        printf("collectd 5 modbus plugin, same 100 meters x 10 registers every second "
               "(one request per value, CSV):\n");
        printf("  %.0f values/s stored, %.2f us CPU per stored value, RSS %ld KiB (peak %ld "
               "KiB, anonymous %ld KiB)\n",
               cr.values_s, cr.cpu_us_value, cr.rss_kib, cr.hwm_kib, cr.anon_kib);
        if (cr.cpu_us_value > 0 && fr.cpu_us_value > 0)
            printf("  foyerd CPU per value / collectd's: %.2f (target <= 0.20)\n",
                   fr.cpu_us_value / cr.cpu_us_value);
    } else {
        printf("collectd: /usr/lib/collectd/modbus.so not installed (apt-get install "
               "collectd-core): comparison skipped\n");
    }

    stop_child(sim_pid);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_modbus: could not remove %s\n", tmp);
    return 0;
}
