/*
 * drv_modbus.c - the Modbus driver: polls the [meter]s of every [bus] (TCP
 * gateway or RTU line) with libmodbus and hands their values to the sink.
 *
 * DESIGN
 *   One thread per bus that has meters ("foyer-bus-ID"): a gateway or a
 *   serial line serialises its transactions, buses run in parallel.  The
 *   thread alone owns its modbus_t, its meters' state and their buffers, so
 *   nothing here is locked but the stop flag's condition variable.
 *
 *   Requests: each profile gets its plans once, at open (drv_modbus_plan_build():
 *   ranges of one function merged up to 125 registers, reading through gaps
 *   of DRV_MODBUS_PLAN_GAP_TCP or DRV_MODBUS_PLAN_GAP_MAX registers by bus type; and a strict
 *   plan without gaps for meters that answer exception 02 to a read through
 *   unmapped registers: such a meter switches to it, once, logged).  Every meter owns a word
 *   buffer the size of its plan and an array of readings, allocated at open:
 *   between a read and the emit nothing allocates, looks up or logs.
 *
 *   Schedule: a meter has a slot (monotonic ms); after a poll the slot moves
 *   by whole intervals past now (next = previous slot + interval, missed
 *   slots skipped), so the schedule does not drift.  The thread always polls
 *   the meter with the earliest due time and sleeps on a condition variable
 *   until then, so close() wakes it at once.  A missed poll (no answer:
 *   timeout, CRC, garbage, connection lost) is retried after a backoff of
 *   1, 2, 4 ... s capped at the interval; after bus->offline_after missed
 *   polls in a row the meter is offline (event, log_warn), and the first
 *   answer brings it back online (event, log_info).  A poll stops at its
 *   first unanswered request, so a dead meter costs the others one response
 *   timeout per attempt.
 *
 *   Connection: TCP reconnects by itself.  A request that fails because the
 *   gateway closed an established connection is retried once at once on a
 *   fresh one (gateways close idle connections); a failed connect is retried
 *   per bus with backoff (1, 2, 4 ... 30 s).  After a timeout or a garbled
 *   answer the input is flushed so a late answer is not taken for the next.
 *
 *   Stop: close() returns within moments whatever the gateway does.  The
 *   thread makes its TCP connection itself (non-blocking connect, poll()
 *   bounded by timeout_ms) and hands the socket to libmodbus; the socket is
 *   published under drv->lock, and close() shuts it down, which ends at
 *   once a connect still pending (a gateway whose accept queue is full) or
 *   a wait for an answer (timeout_ms may be a minute).  A serial line cannot
 *   be woken that way: an RTU bus stops after at most one timeout_ms.
 *
 *   Values: decoded (drv_modbus_decode_value()), refused when NaN, infinite or outside
 *   the register's declared range (counted in bad_values), else emitted with
 *   the poll's UTC timestamp.  Counters (polls, errors by kind, last success,
 *   response time) go to env->health after every poll.
 *
 *   Health: a poll succeeds when it yields at least one valid value.  A
 *   meter that answers only exceptions (01 illegal function, 04 device
 *   failure, 06 busy ...) or only NaN and out-of-range values is alive but
 *   useless: such a poll is missed like an unanswered one (backoff, offline
 *   after offline_after, the exception code or "no valid value" in the
 *   event), and last_success stays at the last valid value.
 */
#include "foyer/drv_modbus.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "foyer/log.h"
#include "foyer/timeutil.h"

/* Longest wait between two connection attempts on a bus whose gateway or
 * serial device is unavailable. */
#define MB_CONNECT_BACKOFF_MAX_MS 30000
/* Plans of a profile: merged for TCP, merged for RTU, without gaps. */
enum { MB_PLAN_TCP, MB_PLAN_RTU, MB_PLAN_STRICT, MB_PLAN_KINDS };

/* Smoothing of the reported response time: weight of the newest request. */
#define MB_RESPONSE_EMA 0.2

struct mb_meter {
    const struct meter *m;
    const struct profile *prof;
    const struct drv_modbus_plan *plan;   /* shared by the meters of one profile and bus type */
    const struct drv_modbus_plan *strict; /* the same without gaps (exception 02 fallback) */
    bool refused_gap;                     /* this poll got exception 02: switch to strict */
    uint16_t *words;                      /* plan->n_words, filled by one poll */
    bool *req_ok;                         /* per request: answered in this poll */
    int64_t interval_ms;
    int64_t slot_ms;    /* the schedule's current deadline (monotonic) */
    int64_t due_ms;     /* next attempt: the slot, or a retry after backoff */
    int64_t backoff_ms; /* wait before the next retry after a missed poll */
    int missed;         /* missed polls in a row (no valid value) */
    bool offline;
    struct device_health h;          /* reported after every poll */
    char ctx[2 * FOYER_ID_MAX + 40]; /* "bus=gw1 unit=12 meter=m12" for messages */
};

struct drv_modbus;

struct mb_bus {
    struct drv_modbus *drv;
    const struct bus *b;
    modbus_t *mb;
    int sock; /* TCP: the socket while connecting or connected, else -1; written
                 under drv->lock, so close() can shut it down */
    bool connected;
    bool conn_failed;         /* the last connect failed (logged once) */
    int64_t connect_after_ms; /* no connect attempt before (monotonic) */
    int64_t connect_backoff_ms;
    int connect_err;           /* errno of the last failed connect, for messages */
    int64_t last_frame_end_ms; /* end of the last transaction, for frame_delay_ms */
    struct mb_meter *meters;
    size_t n_meters;
    pthread_t thread;
    bool started;
};

struct drv_modbus {
    struct driver_env env;
    struct drv_modbus_plan **plans; /* per profile, MB_PLAN_KINDS each; NULL when unused */
    size_t n_plans;
    struct mb_bus *buses; /* per cfg->buses */
    size_t n_buses;
    pthread_mutex_t lock; /* guards the wait on wake and the buses' sock */
    pthread_cond_t wake;  /* signalled by close() */
    atomic_bool stop;
};

/* What a failed request tells about the meter. */
enum mb_fail {
    MB_OK,
    MB_TIMEOUT,   /* no answer */
    MB_CRC,       /* garbled answer (RTU) */
    MB_EXCEPTION, /* the meter answered with an exception: it is alive */
    MB_GATEWAY,   /* the gateway answered that the meter did not (exception 0x0A/0x0B) */
    MB_OTHER,     /* connection refused or lost, malformed answer, ... */
};

static void free_bus_meters(struct mb_bus *bus)
{
    for (size_t i = 0; i < bus->n_meters; i++) {
        free(bus->meters[i].words);
        free(bus->meters[i].req_ok);
    }
    free(bus->meters);
    bus->meters = NULL;
    bus->n_meters = 0;
}

static void drv_modbus_close(void *arg)
{
    struct drv_modbus *drv = arg;
    if (!drv)
        return;
    pthread_mutex_lock(&drv->lock);
    atomic_store(&drv->stop, true);
    /* Wake a thread waiting on its gateway: a pending connect fails, a
     * read sees the end of the stream. */
    for (size_t i = 0; i < drv->n_buses; i++)
        if (drv->buses[i].sock >= 0)
            (void)shutdown(drv->buses[i].sock, SHUT_RDWR);
    pthread_cond_broadcast(&drv->wake);
    pthread_mutex_unlock(&drv->lock);
    for (size_t i = 0; i < drv->n_buses; i++) {
        struct mb_bus *bus = &drv->buses[i];
        if (bus->started)
            pthread_join(bus->thread, NULL);
        if (bus->mb) {
            modbus_close(bus->mb);
            modbus_free(bus->mb);
        }
        free_bus_meters(bus);
    }
    for (size_t i = 0; i < drv->n_plans; i++)
        drv_modbus_plan_free(drv->plans[i]);
    free(drv->plans);
    free(drv->buses);
    pthread_cond_destroy(&drv->wake);
    pthread_mutex_destroy(&drv->lock);
    free(drv);
}

static int new_context(struct mb_bus *bus)
{
    const struct bus *b = bus->b;
    if (b->type == BUS_TCP) {
        bus->mb = modbus_new_tcp(b->host, b->port);
    } else {
        char parity = b->parity == PARITY_EVEN ? 'E' : b->parity == PARITY_ODD ? 'O' : 'N';
        bus->mb = modbus_new_rtu(b->device, b->baud, parity, b->data_bits, b->stop_bits);
    }
    if (!bus->mb)
        return errno ? -errno : -EINVAL;
    uint32_t to_ms = (uint32_t)b->timeout_ms;
    modbus_set_response_timeout(bus->mb, to_ms / 1000, (to_ms % 1000) * 1000);
    modbus_set_error_recovery(bus->mb, MODBUS_ERROR_RECOVERY_NONE);
    return 0;
}

static int setup_meter(struct drv_modbus *drv, struct mb_meter *mm, const struct meter *m)
{
    const struct foyer_config *cfg = drv->env.cfg;
    const struct bus *b = &cfg->buses[m->bus];
    mm->m = m;
    mm->prof = &cfg->profiles[m->profile];
    size_t base = (size_t)m->profile * MB_PLAN_KINDS;
    mm->plan = drv->plans[base + (b->type == BUS_TCP ? MB_PLAN_TCP : MB_PLAN_RTU)];
    mm->strict = drv->plans[base + MB_PLAN_STRICT];
    /* Buffers for either plan: the strict one has more requests, fewer words. */
    size_t n_words =
        mm->plan->n_words > mm->strict->n_words ? mm->plan->n_words : mm->strict->n_words;
    size_t n_reqs = mm->plan->n_reqs > mm->strict->n_reqs ? mm->plan->n_reqs : mm->strict->n_reqs;
    mm->words = calloc(n_words ? n_words : 1, sizeof(*mm->words));
    mm->req_ok = calloc(n_reqs ? n_reqs : 1, sizeof(*mm->req_ok));
    if (!mm->words || !mm->req_ok)
        return -ENOMEM;
    mm->interval_ms = (int64_t)m->interval_s * 1000;
    mm->backoff_ms = 1000;
    snprintf(mm->ctx, sizeof(mm->ctx), "bus=%s unit=%d meter=%s", b->id, m->unit_id, m->id);
    memcpy(mm->h.device, m->id, sizeof(mm->h.device));
    mm->h.kind = "meter";
    mm->h.state = "online";
    mm->h.since_s = tu_now_s();
    return 0;
}

static void *drv_modbus_open(const struct driver_env *env, int *ret_err)
{
    const struct foyer_config *cfg = env->cfg;
    int err = -ENOMEM;
    struct drv_modbus *drv = calloc(1, sizeof(*drv));
    if (!drv)
        goto out_err;
    drv->env = *env;
    pthread_mutex_init(&drv->lock, NULL);
    err = tu_cond_init_monotonic(&drv->wake);
    if (err < 0) {
        pthread_mutex_destroy(&drv->lock);
        free(drv);
        goto out_err;
    }
    err = -ENOMEM;
    atomic_init(&drv->stop, false);

    drv->plans = calloc(cfg->n_profiles ? cfg->n_profiles * MB_PLAN_KINDS : 1, sizeof(*drv->plans));
    drv->buses = calloc(cfg->n_buses ? cfg->n_buses : 1, sizeof(*drv->buses));
    if (!drv->plans || !drv->buses)
        goto out_close;
    drv->n_plans = cfg->n_profiles * MB_PLAN_KINDS;
    drv->n_buses = cfg->n_buses;
    for (size_t i = 0; i < cfg->n_buses; i++)
        drv->buses[i].sock = -1;

    for (size_t i = 0; i < cfg->n_meters; i++) {
        const struct meter *m = &cfg->meters[i];
        const struct profile *prof = &cfg->profiles[m->profile];
        size_t base = (size_t)m->profile * MB_PLAN_KINDS;
        bool tcp = cfg->buses[m->bus].type == BUS_TCP;
        size_t kinds[2] = {tcp ? MB_PLAN_TCP : MB_PLAN_RTU, MB_PLAN_STRICT};
        unsigned gaps[2] = {tcp ? DRV_MODBUS_PLAN_GAP_TCP : DRV_MODBUS_PLAN_GAP_MAX, 0};
        for (size_t k = 0; k < 2; k++) {
            if (drv->plans[base + kinds[k]])
                continue;
            err = drv_modbus_plan_build(prof, gaps[k], &drv->plans[base + kinds[k]]);
            if (err < 0) {
                log_err("profile %s (%s): cannot plan its requests: %s", prof->name, prof->path,
                        err == -EINVAL ? "a register runs past address 65535" : strerror(-err));
                goto out_close;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_meters; i++)
        drv->buses[cfg->meters[i].bus].n_meters++;
    for (size_t i = 0; i < cfg->n_buses; i++) {
        struct mb_bus *bus = &drv->buses[i];
        bus->drv = drv;
        bus->b = &cfg->buses[i];
        bus->connect_backoff_ms = 1000;
        if (bus->n_meters == 0)
            continue;
        bus->meters = calloc(bus->n_meters, sizeof(*bus->meters));
        if (!bus->meters)
            goto out_close;
        err = new_context(bus);
        if (err < 0) {
            log_err("bus=%s: cannot create the Modbus context: %s", bus->b->id, strerror(-err));
            goto out_close;
        }
        bus->n_meters = 0; /* counted again while filled below */
    }
    err = -ENOMEM;
    for (size_t i = 0; i < cfg->n_meters; i++) {
        struct mb_bus *bus = &drv->buses[cfg->meters[i].bus];
        if (setup_meter(drv, &bus->meters[bus->n_meters++], &cfg->meters[i]) < 0)
            goto out_close;
    }
    return drv;

out_close:
    drv_modbus_close(drv);
out_err:
    *ret_err = err;
    return NULL;
}

/* Wait until the monotonic deadline or close(); false when stopping. */
static bool wait_until(struct drv_modbus *drv, int64_t deadline_ms)
{
    struct timespec ts = tu_mono_timespec(deadline_ms);
    pthread_mutex_lock(&drv->lock);
    while (!atomic_load(&drv->stop) && tu_mono_ms() < deadline_ms)
        if (pthread_cond_timedwait(&drv->wake, &drv->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&drv->lock);
    return !atomic_load(&drv->stop);
}

static double mono_ms_precise(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static enum mb_fail classify(int err)
{
    if (err == ETIMEDOUT)
        return MB_TIMEOUT;
    if (err == EMBBADCRC)
        return MB_CRC;
    if (err == EMBXGPATH || err == EMBXGTAR)
        return MB_GATEWAY;
    if (err >= EMBXILFUN && err < EMBXGPATH)
        return MB_EXCEPTION;
    return MB_OTHER;
}

/* Errors after which the TCP stream is unusable: reconnect. */
static bool connection_lost(int err)
{
    return err == ECONNRESET || err == EPIPE || err == ENOTCONN || err == EBADF ||
           err == ECONNABORTED || err == EIO;
}

static const char *err_text(int err, char *buf, size_t len)
{
    if (err == ETIMEDOUT)
        return "timeout";
    if (err >= MODBUS_ENOBASE)
        return modbus_strerror(err); /* static strings for libmodbus's own codes */
    return strerror_r(err, buf, len);
}

static void bus_disconnect(struct mb_bus *bus)
{
    if (bus->sock >= 0) {
        pthread_mutex_lock(&bus->drv->lock);
        bus->sock = -1; /* close() must not shut down a number reused meanwhile */
        pthread_mutex_unlock(&bus->drv->lock);
    }
    if (bus->connected)
        modbus_close(bus->mb);
    bus->connected = false;
}

/* Connect to a TCP gateway: non-blocking, at most timeout_ms, and ended at
 * once by close() (which shuts the published socket down).  On success the
 * socket is libmodbus's.  0 or -errno (-ECANCELED when stopping, -EINVAL
 * when the host is not an IP address). */
static int tcp_connect(struct mb_bus *bus)
{
    const struct bus *b = bus->b;
    struct drv_modbus *drv = bus->drv;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai;
    char port[8];
    int s, err = 0, one = 1;

    (void)snprintf(port, sizeof(port), "%d", b->port);
    /* Numeric only, as libmodbus's own connect: resolving a name could
     * block a stop for as long as the resolver waits. */
    if (getaddrinfo(b->host, port, &hints, &ai) != 0)
        return -EINVAL;
    s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        err = errno;
        freeaddrinfo(ai);
        return -err;
    }
    pthread_mutex_lock(&drv->lock);
    if (!atomic_load(&drv->stop))
        bus->sock = s;
    pthread_mutex_unlock(&drv->lock);
    if (bus->sock != s) {
        err = ECANCELED;
        goto out_close;
    }
    if (connect(s, ai->ai_addr, ai->ai_addrlen) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
            int64_t deadline = tu_mono_ms() + b->timeout_ms;
            struct pollfd pfd = {.fd = s, .events = POLLOUT};
            int n;
            do {
                int64_t left = deadline - tu_mono_ms();
                n = poll(&pfd, 1, left > 0 ? (int)left : 0);
            } while (n < 0 && errno == EINTR);
            socklen_t len = sizeof(err);
            if (n == 0)
                err = ETIMEDOUT;
            else if (n < 0)
                err = errno;
            else if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        }
    }
    if (atomic_load(&drv->stop))
        err = ECANCELED;
    if (err)
        goto out_unpublish;
    freeaddrinfo(ai);
    (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (modbus_set_socket(bus->mb, s) < 0) {
        err = errno ? errno : EINVAL;
        pthread_mutex_lock(&drv->lock);
        bus->sock = -1;
        pthread_mutex_unlock(&drv->lock);
        close(s);
        return -err;
    }
    return 0;

out_unpublish:
    pthread_mutex_lock(&drv->lock);
    bus->sock = -1;
    pthread_mutex_unlock(&drv->lock);
out_close:
    close(s);
    freeaddrinfo(ai);
    return -err;
}

/* Connect when needed; 0 or -errno (-EAGAIN while backing off). */
static int bus_connect(struct mb_bus *bus)
{
    if (bus->connected)
        return 0;
    int64_t now = tu_mono_ms();
    if (now < bus->connect_after_ms)
        return -EAGAIN;
    int rc = bus->b->type == BUS_TCP ? tcp_connect(bus)
                                     : (modbus_connect(bus->mb) < 0 ? -(errno ? errno : EIO) : 0);
    if (rc == -ECANCELED)
        return rc;
    if (rc < 0) {
        int err = -rc;
        if (!bus->conn_failed) {
            char eb[128];
            if (bus->b->type == BUS_TCP && err == EINVAL)
                log_warn("bus=%s: cannot connect to %s:%d: the host is not an IP address; "
                         "retrying with backoff up to %d s",
                         bus->b->id, bus->b->host, bus->b->port, MB_CONNECT_BACKOFF_MAX_MS / 1000);
            else if (bus->b->type == BUS_TCP && err == ETIMEDOUT)
                /* the gateway never answered: no errno text says how long
                 * we waited, and "Connection timed out" reads as the
                 * kernel's minutes-long timeout */
                log_warn("bus=%s: cannot connect to %s:%d: timed out after %d ms (the bus's "
                         "timeout_ms); retrying with backoff up to %d s",
                         bus->b->id, bus->b->host, bus->b->port, bus->b->timeout_ms,
                         MB_CONNECT_BACKOFF_MAX_MS / 1000);
            else if (bus->b->type == BUS_TCP)
                log_warn("bus=%s: cannot connect to %s:%d: %s; retrying with backoff up to %d s",
                         bus->b->id, bus->b->host, bus->b->port, err_text(err, eb, sizeof(eb)),
                         MB_CONNECT_BACKOFF_MAX_MS / 1000);
            else
                log_warn("bus=%s: cannot open %s: %s; retrying with backoff up to %d s", bus->b->id,
                         bus->b->device, err_text(err, eb, sizeof(eb)),
                         MB_CONNECT_BACKOFF_MAX_MS / 1000);
        }
        bus->conn_failed = true;
        bus->connect_err = err;
        bus->connect_after_ms = now + bus->connect_backoff_ms;
        bus->connect_backoff_ms =
            tu_backoff_next(bus->connect_backoff_ms, MB_CONNECT_BACKOFF_MAX_MS);
        return -err;
    }
    if (bus->b->type == BUS_RTU && bus->b->rs485 &&
        modbus_rtu_set_serial_mode(bus->mb, MODBUS_RTU_RS485) < 0) {
        char eb[128];
        if (!bus->conn_failed)
            log_warn("bus=%s: cannot switch %s to RS-485 mode: %s; continuing in its current "
                     "mode",
                     bus->b->id, bus->b->device, err_text(errno, eb, sizeof(eb)));
    }
    if (bus->conn_failed)
        log_info("bus=%s: connected again", bus->b->id);
    bus->conn_failed = false;
    bus->connected = true;
    bus->connect_backoff_ms = 1000;
    return 0;
}

/* One read request; 0 or -errno (libmodbus errnos included). */
static int bus_read(struct mb_bus *bus, int unit_id, const struct drv_modbus_request *rq,
                    uint16_t *dest, double *ret_ms)
{
    for (int attempt = 0;; attempt++) {
        bool fresh = !bus->connected;
        int err = bus_connect(bus);
        if (err < 0)
            return err;
        if (bus->b->frame_delay_ms > 0) {
            int64_t ready = bus->last_frame_end_ms + bus->b->frame_delay_ms;
            if (tu_mono_ms() < ready && !wait_until(bus->drv, ready))
                return -ECANCELED;
        }
        modbus_set_slave(bus->mb, unit_id);
        double t0 = mono_ms_precise();
        int n = rq->function == REG_INPUT
                    ? modbus_read_input_registers(bus->mb, rq->address, rq->count, dest)
                    : modbus_read_registers(bus->mb, rq->address, rq->count, dest);
        err = n < 0 ? (errno ? errno : EIO) : 0;
        double t1 = mono_ms_precise();
        bus->last_frame_end_ms = tu_mono_ms();
        if (n == rq->count) {
            *ret_ms = t1 - t0;
            return 0;
        }
        if (atomic_load(&bus->drv->stop))
            return -ECANCELED; /* close() shut the connection down */
        if (n >= 0)
            err = EMBBADDATA;
        enum mb_fail f = classify(err);
        if (bus->b->type == BUS_TCP && f == MB_OTHER) {
            /* The stream may be out of step or closed: start afresh.  An
             * established connection closed by the gateway while idle is
             * retried at once on a new one. */
            bus_disconnect(bus);
            if (attempt == 0 && !fresh && connection_lost(err))
                continue;
        } else if (f == MB_TIMEOUT || f == MB_CRC || f == MB_OTHER) {
            modbus_flush(bus->mb); /* a late or partial answer must not pass for the next */
            if (bus->b->type == BUS_RTU && connection_lost(err))
                bus_disconnect(bus);
        }
        return -err;
    }
}

static void set_state(struct mb_bus *bus, struct mb_meter *mm, bool offline, int64_t ts_s,
                      bool answered, const char *why)
{
    const struct driver_env *env = &bus->drv->env;
    char detail[160];
    mm->offline = offline;
    mm->h.state = offline ? "offline" : "online";
    mm->h.since_s = ts_s;
    if (offline) {
        snprintf(detail, sizeof(detail), "%d polls %s: %s", mm->missed,
                 answered ? "without a valid value" : "missed", why);
        log_warn("%s: offline: %s; retrying every %lld s at most", mm->ctx, detail,
                 (long long)(mm->interval_ms / 1000));
    } else {
        snprintf(detail, sizeof(detail), "valid values again after %d missed polls", mm->missed);
        log_info("%s: online: %s", mm->ctx, detail);
    }
    env->event(env->sink_ctx, mm->m->id, ts_s, offline ? "offline" : "online", detail);
}

/* Poll every request of one meter, emit its good values, update its state. */
static void poll_meter(struct mb_bus *bus, struct mb_meter *mm)
{
    const struct driver_env *env = &bus->drv->env;
    const struct drv_modbus_plan *plan = mm->plan;
    int64_t ts_s = tu_now_s();
    size_t answered = 0, failed = 0, valid = 0, invalid = 0;
    int last_err = 0, exception = 0;

    memset(mm->req_ok, 0, plan->n_reqs * sizeof(*mm->req_ok));
    for (size_t i = 0; i < plan->n_reqs; i++) {
        const struct drv_modbus_request *rq = &plan->reqs[i];
        double ms = 0;
        if (atomic_load(&bus->drv->stop))
            return; /* stopping: no verdict on this poll */
        int rc = bus_read(bus, mm->m->unit_id, rq, mm->words + rq->first_word, &ms);
        mm->req_ok[i] = rc == 0;
        if (rc == -ECANCELED)
            return; /* stopping: no verdict on this poll */
        if (rc != -EAGAIN)
            mm->h.polls++;
        if (rc == 0) {
            answered++;
            mm->h.response_ms = mm->h.response_ms == 0 ? ms
                                                       : (1 - MB_RESPONSE_EMA) * mm->h.response_ms +
                                                             MB_RESPONSE_EMA * ms;
            continue;
        }
        last_err = rc == -EAGAIN ? bus->connect_err : -rc;
        switch (classify(-rc)) {
        case MB_TIMEOUT:
            mm->h.timeouts++;
            break;
        case MB_CRC:
            mm->h.crc_errors++;
            break;
        case MB_EXCEPTION:
            mm->h.exceptions++;
            if (-rc == EMBXILADD && mm->plan != mm->strict && rq->count > 1)
                mm->refused_gap = true;
            exception = -rc;
            answered++; /* alive, but this range is refused */
            continue;
        case MB_GATEWAY:
            mm->h.exceptions++;
            break;
        default:
            mm->h.other_errors++;
            break;
        }
        failed++;
        /* No answer: the meter's other requests would only wait out more
         * timeouts and delay the bus; they go with the next attempt. */
        break;
    }

    for (size_t r = 0; r < mm->prof->n_regs; r++) {
        if (!mm->req_ok[plan->reg_req[r]])
            continue;
        const struct profile_register *reg = &mm->prof->regs[r];
        double v;
        uint32_t w = plan->reg_word[r];
        if (drv_modbus_decode_value(reg, mm->words + w, plan->n_words - w, &v) < 0 ||
            !drv_modbus_decode_acceptable(reg, v)) {
            mm->h.bad_values++;
            invalid++;
            continue;
        }
        struct reading rd = {
            .channel = mm->m->first_channel + (uint32_t)r, .ts_s = ts_s, .value = v};
        (void)env->emit(env->sink_ctx, &rd); /* a refusal is counted by the sink */
        valid++;
    }

    if (mm->refused_gap) {
        mm->refused_gap = false;
        mm->plan = mm->strict;
        log_info("%s: the meter refuses reads through unmapped registers (exception 02); "
                 "reading its registers range by range from now on (%zu requests per poll)",
                 mm->ctx, mm->plan->n_reqs);
    }

    int64_t now = tu_mono_ms();
    /* Keep the schedule: the next slot after now, whole intervals from the last. */
    if (mm->slot_ms <= now)
        mm->slot_ms += ((now - mm->slot_ms) / mm->interval_ms + 1) * mm->interval_ms;
    if (valid > 0) {
        mm->h.last_success_s = ts_s;
        if (mm->offline)
            set_state(bus, mm, false, ts_s, true, NULL);
        mm->missed = 0;
        mm->backoff_ms = 1000;
        mm->due_ms = mm->slot_ms;
    } else {
        mm->missed++;
        if (!mm->offline && mm->missed >= bus->b->offline_after) {
            char eb[128], why[160];
            /* Why this poll gave nothing: no answer, else what the meter
             * answered instead of values. */
            if (answered == 0)
                (void)snprintf(why, sizeof(why), "%s", err_text(last_err, eb, sizeof(eb)));
            else if (exception)
                (void)snprintf(why, sizeof(why), "exception %02d (%s)", exception - MODBUS_ENOBASE,
                               modbus_strerror(exception));
            else
                (void)snprintf(why, sizeof(why),
                               "invalid values (%zu NaN, infinite or out of "
                               "range)",
                               invalid);
            set_state(bus, mm, true, ts_s, answered > 0, why);
        }
        int64_t retry = now + mm->backoff_ms;
        mm->due_ms = retry < mm->slot_ms ? retry : mm->slot_ms;
        mm->backoff_ms = tu_backoff_next(mm->backoff_ms, mm->interval_ms);
    }
    env->health(env->sink_ctx, &mm->h);
}

static void *bus_main(void *arg)
{
    struct mb_bus *bus = arg;
    struct drv_modbus *drv = bus->drv;
    char name[16];
    size_t len = strlen(bus->b->id);
    memcpy(name, "foyer-bus-", 10);
    if (len > sizeof(name) - 11)
        len = sizeof(name) - 11;
    memcpy(name + 10, bus->b->id, len);
    name[10 + len] = '\0';
    pthread_setname_np(pthread_self(), name);

    int64_t start = tu_mono_ms();
    for (size_t i = 0; i < bus->n_meters; i++)
        bus->meters[i].slot_ms = bus->meters[i].due_ms = start;

    while (!atomic_load(&drv->stop)) {
        struct mb_meter *next = &bus->meters[0];
        for (size_t i = 1; i < bus->n_meters; i++)
            if (bus->meters[i].due_ms < next->due_ms)
                next = &bus->meters[i];
        if (next->due_ms > tu_mono_ms()) {
            if (!wait_until(drv, next->due_ms))
                break;
            continue;
        }
        poll_meter(bus, next);
    }
    bus_disconnect(bus);
    return NULL;
}

static int drv_modbus_start(void *arg)
{
    struct drv_modbus *drv = arg;
    for (size_t i = 0; i < drv->n_buses; i++) {
        struct mb_bus *bus = &drv->buses[i];
        if (bus->n_meters == 0)
            continue;
        int rc = pthread_create(&bus->thread, NULL, bus_main, bus);
        if (rc != 0) {
            log_err("bus=%s: cannot start its thread: %s", bus->b->id, strerror(rc));
            return -rc;
        }
        bus->started = true;
    }
    size_t n_meters = 0, n_threads = 0;
    for (size_t i = 0; i < drv->n_buses; i++) {
        n_meters += drv->buses[i].n_meters;
        n_threads += drv->buses[i].started;
    }
    if (n_meters > 0)
        log_info("modbus: polling %zu meters on %zu buses", n_meters, n_threads);
    return 0;
}

const struct driver_ops drv_modbus_ops = {
    .abi = FOYER_DRIVER_ABI,
    .name = "modbus",
    .open = drv_modbus_open,
    .start = drv_modbus_start,
    .close = drv_modbus_close,
};
