/*
 * modbus_sim.c - foyer-modbus-sim: simulated Modbus energy meters for the
 * tests, the bench and the demo, served with libmodbus's server API.
 *
 * It serves N meters, one per unit ID, on one TCP listener (any number of
 * clients: a gateway) or on one RTU serial line (a socat pty in the tests).
 * Models:
 *   sdm120  Eastron SDM120 input registers (float32, ABCD): voltage 0x00,
 *           current 0x06, active power 0x0C, VA 0x12, VAr 0x18, power factor
 *           0x1E, frequency 0x46, import kWh 0x48, export kWh 0x4A, total kWh
 *           0x156
 *   sdm630  Eastron SDM630 input registers: L1..L3 voltage 0x00/02/04, current
 *           0x06/08/0A, power 0x0C/0E/10, total power 0x34, total VA 0x38,
 *           frequency 0x46, import kWh 0x48, export kWh 0x4A, total kWh 0x156
 *   types   holding registers 0x100 + 4 * (4 * TYPE + ORDER): a known value of
 *           each type (u16 s16 u32 s32 u64 s64 float32 float64) in each word
 *           order (ABCD CDAB BADC DCBA), for decoding tests:
 *             u16 12345, s16 -12345, u32 3000000000, s32 -2000000000,
 *             u64 1234567890123, s64 -1234567890123, float32 1234.5,
 *             float64 -98765.4321
 * Power follows a daily load profile in local time (night base load, morning
 * and evening peaks, noise); the energy indexes integrate it, so they advance
 * as a real dwelling's would (faster with --speed).
 *
 * Usage:
 *   foyer-modbus-sim [--tcp PORT | --rtu DEVICE] --meters SPEC [options]
 *     --tcp PORT        listen on 127.0.0.1:PORT; 0 picks a free port (default)
 *     --rtu DEVICE      serve an RTU line; --baud N (9600), --parity N|E|O (N),
 *                       --data-bits N (8), --stop-bits N (1)
 *     --meters SPEC     UNIT[-UNIT]:MODEL[,...], e.g. "1-6:sdm120,7:sdm630,9:types"
 *     --port-file FILE  once listening, write the TCP port there (atomically)
 *     --control FIFO    make FIFO and read commands from it, one per line
 *     --speed X         simulated time runs X times faster (default 1)
 *     --seed N          noise seed (default 1)
 *     --households      SDM120 unit U meters the heating circuit of
 *                       households[U - 1] (tests/sim/households.h, the demo's
 *                       history): its power follows the outdoor temperature,
 *                       its index starts below that dwelling's main meter's
 *
 * Commands (on the control FIFO; UNIT may be "all"):
 *   silent UNIT   stop answering (the client times out)
 *   answer UNIT   answer normally again (ends silent, garbage and noise)
 *   garbage UNIT  answer well-formed frames holding NaN, infinity and values
 *                 out of any plausible range
 *   noise UNIT    answer random bytes instead of a Modbus frame
 *   strict UNIT   answer exception 02 (illegal data address) to a read of
 *                 input registers through registers the model does not have,
 *                 as some meters do (ended by "answer")
 *   exception UNIT CODE
 *                 answer every read with exception CODE (1 to 11: 01 illegal
 *                 function, 04 device failure, 06 busy ...), as a meter
 *                 that is alive but gives no value (ended by "answer")
 *   nan UNIT      answer well-formed frames in which every float32 of the
 *                 sdm models is NaN: nothing valid (ended by "answer")
 *   reset UNIT    reset the energy indexes to 0 (a replaced meter)
 *   drop          close every client TCP connection
 *   stats         print "stats unit=U model=M reads=R regs=N" per unit, then
 *                 "stats total reads=R" on stdout
 * Each command is acknowledged on stdout ("ok CMD ARGS"), which is line-buffered;
 * every accepted TCP connection prints "connect client=N" (clients now open).
 * SIGTERM or SIGINT exits 0.
 *
 * RTU note: libmodbus's RTU receive ignores requests for a unit other than
 * the context's one (and then drops the next frame as that unit's answer),
 * so in RTU mode this program frames requests itself (CRC checked) and
 * answers with modbus_reply() after setting the unit.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "households.h"

#define SIM_UNITS   248   /* unit IDs 1..247 */
#define SIM_REGS    0x200 /* registers of each kind per unit */
#define SIM_CLIENTS 64

enum model { M_NONE, M_SDM120, M_SDM630, M_TYPES };
static const char *const model_names[] = {"none", "sdm120", "sdm630", "types"};

struct sim_meter {
    enum model model;
    modbus_mapping_t *map;
    double import_kwh, export_kwh;
    double scale; /* load of this dwelling relative to the profile */
    /* --households: an SDM120 on the heating circuit of this household
     * (tests/sim/households.h): power follows the outdoor temperature, the
     * index starts at its heating_index_kwh.  NULL: a household's load. */
    const struct household *heating;
    double last_sim_s; /* simulated time of the last update */
    bool silent, garbage, noise;
    bool strict;           /* refuse reads through unmapped registers (exception 02) */
    bool nan;              /* every value NaN */
    int exception;         /* answer every read with this exception code, 0 none */
    bool mapped[SIM_REGS]; /* input registers the model has */
    unsigned long reads, regs;
};

static struct sim_meter meters[SIM_UNITS];
static volatile sig_atomic_t stop_flag;
static double speed = 1.0;
static bool use_households; /* --households */
static double start_real_s, start_sim_s;
static unsigned rng_state = 1;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double sim_time(void)
{
    return start_sim_s + (now_s() - start_real_s) * speed;
}

static double rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (double)((rng_state >> 8) & 0xffff) / 65536.0;
}

/* Store a 32-bit float in an input register pair, big-endian, high word
 * first (Eastron), and mark the pair as mapped. */
static void put_f32(struct sim_meter *m, int addr, double v)
{
    uint16_t *regs = m->map->tab_input_registers;
    m->mapped[addr] = m->mapped[addr + 1] = true;
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    regs[addr] = (uint16_t)(u >> 16);
    regs[addr + 1] = (uint16_t)(u & 0xffff);
}

/* Mean household power in W at a local hour of the day (0..24). */
static double load_profile_w(double hour)
{
    double w = 180; /* fridge, standby */
    w += 700 * exp(-pow((hour - 7.5) / 1.0, 2));
    w += 1400 * exp(-pow((hour - 19.5) / 1.6, 2));
    w += 250 * exp(-pow((hour - 12.5) / 1.2, 2));
    return w;
}

/* Advance a meter to the current simulated time and refresh its registers. */
static void update_meter(struct sim_meter *m)
{
    if (m->model != M_SDM120 && m->model != M_SDM630)
        return;
    double t = sim_time();
    time_t tt = (time_t)t;
    struct tm lt;
    localtime_r(&tt, &lt);
    double hour = lt.tm_hour + lt.tm_min / 60.0 + lt.tm_sec / 3600.0;
    double p = load_profile_w(hour) * m->scale * (0.9 + 0.2 * rnd());
    if (m->heating) /* the same heat need as the generated history's */
        p = 3 + 1000 * fmax(0, m->heating->setpoint_c - 2 - household_outdoor_c(tt)) * 0.055 *
                    (0.9 + 0.2 * rnd());
    if (m->model == M_SDM630)
        p *= 3;
    double dt = t - m->last_sim_s;
    if (dt > 0)
        m->import_kwh += p * dt / 3.6e6;
    m->last_sim_s = t;

    double v = 229 + 4 * rnd(), hz = 49.95 + 0.1 * rnd(), pf = 0.92;
    int phases = m->model == M_SDM630 ? 3 : 1;
    for (int ph = 0; ph < phases; ph++) {
        put_f32(m, 0x00 + 2 * ph, v + ph);
        put_f32(m, 0x06 + 2 * ph, p / phases / (v * pf));
        put_f32(m, 0x0C + 2 * ph, p / phases);
        put_f32(m, 0x12 + 2 * ph, p / phases / pf);
        put_f32(m, 0x18 + 2 * ph, p / phases * 0.4);
        put_f32(m, 0x1E + 2 * ph, pf);
    }
    if (m->model == M_SDM630) {
        put_f32(m, 0x34, p);
        put_f32(m, 0x38, p / pf);
        put_f32(m, 0x3E, pf);
    }
    put_f32(m, 0x46, hz);
    put_f32(m, 0x48, m->import_kwh);
    put_f32(m, 0x4A, m->export_kwh);
    put_f32(m, 0x156, m->import_kwh + m->export_kwh);
    if (m->nan) {
        for (int a = 0; a + 1 < SIM_REGS; a += 2)
            put_f32(m, a, NAN);
    }
    if (m->garbage) {
        put_f32(m, 0x00, -5);  /* voltage below 0 */
        put_f32(m, 0x06, 1e9); /* current out of range */
        put_f32(m, 0x0C, NAN);
        put_f32(m, 0x34, NAN);
        put_f32(m, 0x48, INFINITY);
        put_f32(m, 0x4A, -INFINITY);
    }
}

/* The types model: value bits (big-endian, n words) laid out in an order. */
static void put_ordered(uint16_t *regs, int addr, uint64_t bits, int n_words, int order)
{
    bool swap_bytes = order == 2 || order == 3;    /* BADC, DCBA */
    bool reverse_words = order == 1 || order == 3; /* CDAB, DCBA */
    for (int i = 0; i < n_words; i++) {
        uint16_t w = (uint16_t)(bits >> (16 * (n_words - 1 - i)));
        if (swap_bytes)
            w = (uint16_t)((w >> 8) | (w << 8));
        regs[addr + (reverse_words ? n_words - 1 - i : i)] = w;
    }
}

static void fill_types(struct sim_meter *m)
{
    uint16_t *h = m->map->tab_registers;
    float f32 = 1234.5f;
    double f64 = -98765.4321;
    uint32_t f32_bits;
    uint64_t f64_bits;
    memcpy(&f32_bits, &f32, sizeof(f32_bits));
    memcpy(&f64_bits, &f64, sizeof(f64_bits));
    const struct {
        uint64_t bits;
        int words;
    } v[8] = {
        {12345, 1},          {(uint16_t)-12345, 1},
        {3000000000u, 2},    {(uint32_t)-2000000000, 2},
        {1234567890123u, 4}, {(uint64_t)-1234567890123, 4},
        {f32_bits, 2},       {f64_bits, 4},
    };
    for (int t = 0; t < 8; t++)
        for (int o = 0; o < 4; o++)
            put_ordered(h, 0x100 + 4 * (4 * t + o), v[t].bits, v[t].words, o);
}

static int add_meters(const char *spec)
{
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return -1;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int lo, hi;
        char model[16];
        if (sscanf(tok, "%d-%d:%15s", &lo, &hi, model) != 3) {
            if (sscanf(tok, "%d:%15s", &lo, model) != 2) {
                fprintf(stderr, "modbus-sim: bad meter spec \"%s\"\n", tok);
                free(copy);
                return -1;
            }
            hi = lo;
        }
        enum model md = M_NONE;
        for (int i = 1; i < 4; i++)
            if (strcmp(model, model_names[i]) == 0)
                md = (enum model)i;
        if (md == M_NONE || lo < 1 || hi > 247 || lo > hi) {
            fprintf(stderr, "modbus-sim: bad meter spec \"%s\"\n", tok);
            free(copy);
            return -1;
        }
        for (int u = lo; u <= hi; u++) {
            struct sim_meter *m = &meters[u];
            m->model = md;
            if (!m->map)
                m->map = modbus_mapping_new(0, 0, SIM_REGS, SIM_REGS);
            if (!m->map) {
                free(copy);
                return -1;
            }
            m->scale = 0.6 + 0.8 * rnd();
            m->import_kwh = 1000 + 4000 * rnd();
            if (use_households && md == M_SDM120) {
                m->heating = household_of(u - 1);
                m->import_kwh = m->heating->heating_index_kwh;
            }
            m->last_sim_s = sim_time();
            if (md == M_TYPES)
                fill_types(m);
            else
                update_meter(m);
        }
    }
    free(copy);
    return 0;
}

/* Apply fn to UNIT or to every meter ("all"); false when UNIT is unknown. */
static bool for_units(const char *arg, void (*fn)(struct sim_meter *))
{
    if (strcmp(arg, "all") == 0) {
        for (int u = 1; u < SIM_UNITS; u++)
            if (meters[u].model != M_NONE)
                fn(&meters[u]);
        return true;
    }
    int u = atoi(arg);
    if (u < 1 || u >= SIM_UNITS || meters[u].model == M_NONE)
        return false;
    fn(&meters[u]);
    return true;
}

static void do_silent(struct sim_meter *m)
{
    m->silent = true;
}
static void do_answer(struct sim_meter *m)
{
    m->silent = m->garbage = m->noise = m->strict = m->nan = false;
    m->exception = 0;
}
static void do_nan(struct sim_meter *m)
{
    m->nan = true;
}
static int exception_code; /* the argument of "exception", for do_exception */
static void do_exception(struct sim_meter *m)
{
    m->exception = exception_code;
}
static void do_garbage(struct sim_meter *m)
{
    m->garbage = true;
}
static void do_noise(struct sim_meter *m)
{
    m->noise = true;
}
static void do_strict(struct sim_meter *m)
{
    m->strict = true;
}

static void do_reset(struct sim_meter *m)
{
    m->import_kwh = m->export_kwh = 0;
}

static int clients[SIM_CLIENTS];
static int n_clients;

static void drop_clients(void)
{
    for (int i = 0; i < n_clients; i++)
        close(clients[i]);
    n_clients = 0;
}

static void print_stats(void)
{
    unsigned long total = 0;
    for (int u = 1; u < SIM_UNITS; u++) {
        if (meters[u].model == M_NONE)
            continue;
        printf("stats unit=%d model=%s reads=%lu regs=%lu\n", u, model_names[meters[u].model],
               meters[u].reads, meters[u].regs);
        total += meters[u].reads;
    }
    printf("stats total reads=%lu\n", total);
}

static void run_command(char *line)
{
    char cmd[32] = "", arg[32] = "", arg2[32] = "";
    if (sscanf(line, "%31s %31s %31s", cmd, arg, arg2) < 1)
        return;
    bool ok = true;
    if (strcmp(cmd, "silent") == 0)
        ok = for_units(arg, do_silent);
    else if (strcmp(cmd, "answer") == 0)
        ok = for_units(arg, do_answer);
    else if (strcmp(cmd, "garbage") == 0)
        ok = for_units(arg, do_garbage);
    else if (strcmp(cmd, "noise") == 0)
        ok = for_units(arg, do_noise);
    else if (strcmp(cmd, "strict") == 0)
        ok = for_units(arg, do_strict);
    else if (strcmp(cmd, "reset") == 0)
        ok = for_units(arg, do_reset);
    else if (strcmp(cmd, "nan") == 0)
        ok = for_units(arg, do_nan);
    else if (strcmp(cmd, "exception") == 0) {
        char *end;
        long code = strtol(arg2, &end, 10);
        ok = *arg2 && !*end && code >= 1 && code <= 11;
        exception_code = (int)code;
        if (ok)
            ok = for_units(arg, do_exception);
    } else if (strcmp(cmd, "drop") == 0)
        drop_clients();
    else if (strcmp(cmd, "stats") == 0)
        print_stats();
    else
        ok = false;
    printf("%s %s %s%s%s\n", ok ? "ok" : "error", cmd, arg, arg2[0] ? " " : "", arg2);
}

/* Read whole lines from the control FIFO. */
static void read_control(int fd)
{
    static char buf[512];
    static size_t used;
    ssize_t n = read(fd, buf + used, sizeof(buf) - 1 - used);
    if (n <= 0)
        return;
    used += (size_t)n;
    buf[used] = '\0';
    char *nl;
    while ((nl = strchr(buf, '\n'))) {
        *nl = '\0';
        run_command(buf);
        size_t rest = used - (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, rest);
        used = rest;
        buf[used] = '\0';
    }
    if (used == sizeof(buf) - 1)
        used = 0; /* an endless line: drop it */
}

/* Answer one request (query of len bytes) for unit on the context's fd. */
static void handle(modbus_t *ctx, const uint8_t *query, int len, int unit, int fd)
{
    struct sim_meter *m = unit > 0 && unit < SIM_UNITS ? &meters[unit] : NULL;
    int hl = modbus_get_header_length(ctx);
    if (!m || m->model == M_NONE) {
        if (hl > 1) /* TCP: a gateway says the target did not answer */
            modbus_reply_exception(ctx, query, MODBUS_EXCEPTION_GATEWAY_TARGET);
        return;
    }
    if (m->silent)
        return;
    m->reads++;
    if (len >= hl + 5)
        m->regs += (unsigned long)(query[hl + 3] << 8 | query[hl + 4]);
    if (m->noise) {
        uint8_t junk[16];
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)(rnd() * 256);
        if (write(fd, junk, 9 + (size_t)(rnd() * 7)) < 0)
            return;
        return;
    }
    modbus_set_slave(ctx, unit);
    if (m->exception) {
        modbus_reply_exception(ctx, query, (unsigned)m->exception);
        return;
    }
    if (m->strict && query[hl] == MODBUS_FC_READ_INPUT_REGISTERS && len >= hl + 5) {
        int addr = query[hl + 1] << 8 | query[hl + 2], n = query[hl + 3] << 8 | query[hl + 4];
        for (int a = addr; a < addr + n && a < SIM_REGS; a++)
            if (!m->mapped[a]) {
                modbus_reply_exception(ctx, query, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
                return;
            }
    }
    update_meter(m);
    modbus_reply(ctx, query, len, m->map);
}

static uint16_t crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xffff;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

/* RTU framing: buf holds received bytes; answer every complete request.
 * Returns the bytes consumed. */
static size_t rtu_frames(modbus_t *ctx, int fd, uint8_t *buf, size_t used)
{
    size_t pos = 0;
    while (used - pos >= 8) {
        uint8_t *f = buf + pos;
        size_t len = 8; /* functions 1..6: unit, fn, 4 bytes, CRC */
        if (f[1] == 15 || f[1] == 16)
            len = 9 + (size_t)f[6];
        if (used - pos < len)
            break;
        uint16_t crc = crc16(f, len - 2);
        if (f[len - 2] != (crc & 0xff) || f[len - 1] != (crc >> 8)) {
            pos++; /* resynchronise */
            continue;
        }
        handle(ctx, f, (int)len, f[0], fd);
        pos += len;
    }
    return pos;
}

static int usage(void)
{
    fprintf(stderr, "usage: foyer-modbus-sim [--tcp PORT | --rtu DEVICE [--baud N] "
                    "[--parity N|E|O] [--data-bits N] [--stop-bits N]] --meters SPEC "
                    "[--port-file FILE] [--control FIFO] [--speed X] [--seed N] "
                    "[--households]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int port = 0, baud = 9600, data_bits = 8, stop_bits = 1;
    char parity = 'N';
    const char *rtu = NULL, *spec = NULL, *port_file = NULL, *control = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--households") == 0) {
            use_households = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--tcp") == 0)
            port = atoi(v);
        else if (strcmp(a, "--rtu") == 0)
            rtu = v;
        else if (strcmp(a, "--baud") == 0)
            baud = atoi(v);
        else if (strcmp(a, "--parity") == 0)
            parity = v[0];
        else if (strcmp(a, "--data-bits") == 0)
            data_bits = atoi(v);
        else if (strcmp(a, "--stop-bits") == 0)
            stop_bits = atoi(v);
        else if (strcmp(a, "--meters") == 0)
            spec = v;
        else if (strcmp(a, "--port-file") == 0)
            port_file = v;
        else if (strcmp(a, "--control") == 0)
            control = v;
        else if (strcmp(a, "--speed") == 0)
            speed = atof(v);
        else if (strcmp(a, "--seed") == 0)
            rng_state = (unsigned)atoi(v);
        else
            return usage();
    }
    if (!spec)
        return usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    start_real_s = now_s();
    start_sim_s = start_real_s;
    if (add_meters(spec) < 0)
        return 2;

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int ctl = -1;
    if (control) {
        unlink(control);
        if (mkfifo(control, 0600) < 0 ||
            (ctl = open(control, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
            fprintf(stderr, "modbus-sim: %s: %s\n", control, strerror(errno));
            return 1;
        }
    }

    modbus_t *ctx;
    int listen_fd = -1, line_fd = -1;
    if (rtu) {
        ctx = modbus_new_rtu(rtu, baud, parity, data_bits, stop_bits);
        if (!ctx || modbus_connect(ctx) < 0) {
            fprintf(stderr, "modbus-sim: %s: %s\n", rtu, modbus_strerror(errno));
            return 1;
        }
        line_fd = modbus_get_socket(ctx);
        printf("listening rtu %s\n", rtu);
    } else {
        ctx = modbus_new_tcp("127.0.0.1", port);
        if (!ctx || (listen_fd = modbus_tcp_listen(ctx, 16)) < 0) {
            fprintf(stderr, "modbus-sim: listen on port %d: %s\n", port, modbus_strerror(errno));
            return 1;
        }
        struct sockaddr_in sin;
        socklen_t sl = sizeof(sin);
        getsockname(listen_fd, (struct sockaddr *)&sin, &sl);
        port = ntohs(sin.sin_port);
        printf("listening tcp 127.0.0.1:%d\n", port);
    }
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) < 0) {
            fprintf(stderr, "modbus-sim: %s: %s\n", port_file, strerror(errno));
            return 1;
        }
    }

    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    uint8_t rtu_buf[1024];
    size_t rtu_used = 0;
    while (!stop_flag) {
        fd_set rd;
        FD_ZERO(&rd);
        int maxfd = -1;
#define WATCH(fd)                                                                                  \
    do {                                                                                           \
        FD_SET((fd), &rd);                                                                         \
        if ((fd) > maxfd)                                                                          \
            maxfd = (fd);                                                                          \
    } while (0)
        if (ctl >= 0)
            WATCH(ctl);
        if (listen_fd >= 0)
            WATCH(listen_fd);
        if (line_fd >= 0)
            WATCH(line_fd);
        for (int i = 0; i < n_clients; i++)
            WATCH(clients[i]);
        struct timeval tv = {0, 200000};
        int n = select(maxfd + 1, &rd, NULL, NULL, &tv);
        if (n <= 0)
            continue;
        if (ctl >= 0 && FD_ISSET(ctl, &rd))
            read_control(ctl);
        if (listen_fd >= 0 && FD_ISSET(listen_fd, &rd)) {
            int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0 && n_clients < SIM_CLIENTS) {
                clients[n_clients++] = c;
                printf("connect client=%d\n", n_clients);
            } else if (c >= 0)
                close(c);
        }
        if (line_fd >= 0 && FD_ISSET(line_fd, &rd)) {
            ssize_t got = read(line_fd, rtu_buf + rtu_used, sizeof(rtu_buf) - rtu_used);
            if (got > 0) {
                rtu_used += (size_t)got;
                size_t used = rtu_frames(ctx, line_fd, rtu_buf, rtu_used);
                memmove(rtu_buf, rtu_buf + used, rtu_used - used);
                rtu_used -= used;
                if (rtu_used == sizeof(rtu_buf))
                    rtu_used = 0;
            }
        }
        for (int i = 0; i < n_clients; i++) {
            if (!FD_ISSET(clients[i], &rd))
                continue;
            modbus_set_socket(ctx, clients[i]);
            int len = modbus_receive(ctx, query);
            if (len < 0) {
                close(clients[i]);
                clients[i] = clients[--n_clients];
                i--;
                continue;
            }
            if (len > 0)
                handle(ctx, query, len, query[6], clients[i]);
        }
    }
    drop_clients();
    if (listen_fd >= 0)
        close(listen_fd);
    if (control)
        unlink(control);
    modbus_set_socket(ctx, -1);
    modbus_close(ctx);
    modbus_free(ctx);
    for (int u = 0; u < SIM_UNITS; u++)
        modbus_mapping_free(meters[u].map);
    return 0;
}
