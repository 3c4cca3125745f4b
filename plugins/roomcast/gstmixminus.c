/**
 * SECTION:element-mixminus
 * @title: mixminus
 *
 * An O(N) mix-minus mixer for conferencing. Every tick (20 ms by default)
 * the unmuted inputs are summed once; the always `src` pad carries that sum
 * (the program) and, for every requested `sink_N`, a sometimes pad `minus_N`
 * carries the program minus `sink_N`'s own contribution: what participant N
 * should hear. Every output goes through its own limiter (a gain envelope
 * that holds peaks at -3 dBFS, then a soft clip to a -1 dBFS ceiling), so
 * many loud inputs never clip.
 *
 * The element keeps its own time, like a live source. Each input feeds a
 * FIFO and never blocks (timestamps are not used: what arrived is mixed in
 * arrival order, as conferencing servers do). A tick becomes due when its
 * 20 ms have passed on the pipeline clock; it goes out as soon as every
 * *awaited* input has a full frame, or `max-wait` after it is due. An
 * input is awaited only while it is sending and not long quiet: one that
 * has sent nothing for `idle-timeout` (muted at its source, DTX, a dropped
 * connection, a pre-warmed session) or only silence for 2 s is not waited
 * for (a silent frame that misses its tick is mixed at the next one, and
 * nobody hears the difference). So an input's audio leaves between 0 and
 * one frame after it arrives, plus encoding. An input whose FIFO stays
 * above a quarter frame for a second (a burst, clock drift) is trimmed so
 * latency does not build up.
 *
 * Realigning: where in that frame an input's audio leaves depends on when
 * its packets arrive. One whose packets come just after ticks are due can
 * be mixed the moment each arrives (the tick waits for it) or a tick later
 * (each waits in the FIFO for almost a frame), and which of the two it gets
 * was settled by chance when it began. So when a due tick finds an awaited
 * input's frame already waiting, the input's next frame is expected within
 * `max-wait` with 3 ms to spare, and the waiting frame is quiet (peak below
 * -40 dBFS: a pause, never speech), that frame is dropped and the tick waits
 * for the next: from then on the input's audio leaves as it arrives. A tick
 * that then has to go without the input (its packet came too late) doubles
 * the margin that input needs (when the packet does come, a tick late: an
 * input that stopped sending is not late), so a jittery network stops
 * realigning rather than dropping out again and again (10 s without a
 * miss halve it). Likewise, a due tick that finds a whole frame more than
 * it needs (a burst after a late packet) drops the oldest at once if it is
 * quiet, rather than leaving it a frame of latency until trimming. Only a
 * mixer thread that woke on time realigns: one that woke late finds frames
 * waiting because of itself.
 *
 * Holding (an adaptive playout delay): a lost packet reaches the mixer a
 * frame late, rebuilt from the FEC of the packet after it (opusfecdec
 * decodes both when that one arrives), too late for a tick that waits at
 * most `max-wait`. So when a tick has to go without an awaited input, the
 * frame that comes late is not trimmed away: the input keeps that frame of
 * delay (a "hold"; a second miss while holding adds a second frame), the
 * next loss is rebuilt in time, and neither realigning nor trimming takes
 * the held frames away while losses go on. Each tick that finds the hold
 * used (fewer than the held frames left queued after it: a packet late or
 * lost) keeps it another 5 s; 5 s without one release it, and trimming
 * takes the extra delay back as it takes any backlog. An input that never
 * misses a tick never holds: without loss, transit is as before. This is
 * here rather than in the jitter buffer because only the mixer knows when
 * its own ticks are due, and so whether a frame came too late for one.
 *
 * With `live=false` there is no clock: a tick goes out when every input
 * that has not ended has a full frame. That mode is deterministic, for
 * files and tests.
 *
 * All outputs are pushed from the element's one streaming thread, one
 * after the other; this is cheaper than a thread per output, but a
 * downstream element that blocks holds up everybody (put a queue where a
 * branch may block, e.g. before a sink that prerolls).
 *
 * The always `record` pad carries the program without the inputs whose
 * `in-record` is %FALSE (speakers who opted out of a recording); link it only
 * when recording.
 *
 * Formats: mono 48 kHz, S16LE or F32LE on each pad independently (inputs
 * as they come, outputs as downstream prefers, F32LE when both are fine).
 *
 * Pad properties (on each sink_N, also settable as `sink_N::volume=0.5` on
 * a launch line, through #GstChildProxy):
 * - mute: boolean, default false. The input reaches no output at all and is
 *   never waited for.
 * - volume: double 0..10, default 1.0. Linear gain before mixing.
 * - skip-silent: boolean, default false. While this input is silent, push
 *   nothing on minus_N (a GAP event marks the switch): a silent speaker
 *   hears exactly the program, which the application can encode once for
 *   all of them.
 * - in-record: boolean, default true. Whether the input is in `record`.
 * - silent: boolean, read-only. Whether the input counts as silent now
 *   (muted, no data, or below -60 dBFS for 200 ms).
 *
 * With `level-interval` set, an element message "mixminus-levels" is posted
 * at that interval while any input is sending: fields "pads" and "rms-db",
 * two arrays with the name and RMS (dBFS, over the interval) of each input
 * that sent audio.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -e mixminus name=m sink_1::volume=0.5 \
 *   audiotestsrc is-live=true freq=440 ! m.sink_0 \
 *   audiotestsrc is-live=true freq=660 ! m.sink_1 \
 *   m.src ! audioconvert ! autoaudiosink \
 *   m.minus_0 ! fakesink  m.minus_1 ! fakesink
 * ]|
 * Plays 440 Hz + 660 Hz (at half volume); minus_0 carries only the 660 Hz
 * tone, minus_1 only the 440 Hz tone.
 */

#include "gstmixminus.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mixminusdsp.h"

GST_DEBUG_CATEGORY_STATIC (gst_mix_minus_debug);
#define GST_CAT_DEFAULT gst_mix_minus_debug

#define RATE 48000
#define MIX_CAPS \
  "audio/x-raw, format=(string){ F32LE, S16LE }, rate=(int)48000, " \
  "channels=(int)1, layout=(string)interleaved"
#define F32_CAPS \
  "audio/x-raw, format=(string)F32LE, rate=(int)48000, channels=(int)1, " \
  "layout=(string)interleaved"
#define S16_CAPS \
  "audio/x-raw, format=(string)S16LE, rate=(int)48000, channels=(int)1, " \
  "layout=(string)interleaved"

/* An input is silent after SILENT_AFTER below SILENCE_LEVEL (-60 dBFS). */
#define SILENCE_LEVEL 0.001f
#define SILENT_AFTER (200 * GST_MSECOND)
/* An input that was silent this long is not waited for. */
#define AWAIT_QUIET_AFTER (2 * GST_SECOND)
/* Realigning drops only a frame this quiet (peak, -40 dBFS) ... */
#define REALIGN_LEVEL 0.01f
/* ... when waiting for the next would leave this much of max-wait; each
 * frame of the input that comes too late for its tick doubles its margin. */
#define REALIGN_MARGIN_US 3000
/* Realign only when the mixer thread woke this close to the due time. */
#define REALIGN_ON_TIME (2 * GST_MSECOND)
/* Drain windows (of DRAIN_TICKS) without a miss that halve the margin. */
#define REALIGN_CALM_WINDOWS 10

/* Live FIFOs hold this many frames; beyond that the oldest audio goes. */
#define LIVE_FIFO_FRAMES 10
/* Trimming: every DRAIN_TICKS ticks, an input whose FIFO never fell below
 * a quarter frame after a tick loses that excess. */
#define DRAIN_TICKS 50
/* Holding: at most this many frames, kept this many ticks after the last
 * time they were needed. */
#define MAX_HOLD_FRAMES 2
#define HOLD_TICKS 250
/* More than this many frames behind the clock: skip ahead. */
#define CATCH_UP_FRAMES 10
/* Level messages continue this long after the last input audio. */
#define LEVEL_TAIL (1 * GST_SECOND)

#define DEFAULT_LIVE TRUE
#define DEFAULT_FRAME_DURATION (20 * GST_MSECOND)
#define DEFAULT_MAX_WAIT (18 * GST_MSECOND)
#define DEFAULT_IDLE_TIMEOUT (60 * GST_MSECOND)
#define DEFAULT_LEVEL_INTERVAL 0
#define DEFAULT_EOS_AFTER_INPUTS TRUE
#define DEFAULT_PAD_VOLUME 1.0
#define MAX_PAD_VOLUME 10.0

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (MIX_CAPS));

static GstStaticPadTemplate record_template = GST_STATIC_PAD_TEMPLATE ("record",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (MIX_CAPS));

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink_%u",
    GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS (MIX_CAPS));

static GstStaticPadTemplate minus_template =
GST_STATIC_PAD_TEMPLATE ("minus_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS (MIX_CAPS));

/* ------------------------------------------------------------------------ */
/* GstMixMinusPad                                                           */
/* ------------------------------------------------------------------------ */

struct _GstMixMinusPad
{
  GstPad parent;

  /* Properties. mute and skip_silent are atomic (read every tick); volume
   * is under the pad's object lock. */
  gint mute;
  gint skip_silent;
  gint in_record;
  gdouble volume;
  gint silent;                  /* atomic, written by the mixer thread */

  /* Under the element's lock. */
  GstPad *minus_pad;
  MixFifo fifo;
  gboolean s16;
  gboolean eos;
  gboolean flushing;
  gint64 last_data_us;          /* monotonic time of the last input, 0: never */
  gint64 full_since_us;         /* when the FIFO last came to hold a frame */
  gint64 realign_margin_us;     /* slack within max-wait that realigning needs */
  guint clean_windows;          /* drain windows since a tick went without it */
  gboolean short_last_tick;     /* the last tick went without its frame */
  guint min_residual;           /* smallest fill after a tick, this drain window */
  guint hold;                   /* frames of delay kept for late (rebuilt) frames */
  guint64 hold_until;           /* the tick at which an unused hold ends */

  /* Mixer thread only. */
  gfloat *own;                  /* this tick's contribution (volume applied) */
  guint own_frames;
  gboolean contributed;
  gfloat minus_gain;
  GstClockTime quiet_time;      /* silence so far, up to AWAIT_QUIET_AFTER */
  gboolean gap_sent;
  gboolean minus_s16;
  gdouble level_sumsq;
  guint64 level_frames;
};

enum
{
  PROP_PAD_0,
  PROP_PAD_MUTE,
  PROP_PAD_VOLUME,
  PROP_PAD_SKIP_SILENT,
  PROP_PAD_SILENT,
  PROP_PAD_IN_RECORD,
};

G_DEFINE_TYPE (GstMixMinusPad, gst_mix_minus_pad, GST_TYPE_PAD);

static void
gst_mix_minus_pad_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMixMinusPad *pad = GST_MIX_MINUS_PAD (object);

  switch (prop_id) {
    case PROP_PAD_MUTE:
      g_atomic_int_set (&pad->mute, g_value_get_boolean (value));
      break;
    case PROP_PAD_VOLUME:
      GST_OBJECT_LOCK (pad);
      pad->volume = g_value_get_double (value);
      GST_OBJECT_UNLOCK (pad);
      break;
    case PROP_PAD_SKIP_SILENT:
      g_atomic_int_set (&pad->skip_silent, g_value_get_boolean (value));
      break;
    case PROP_PAD_IN_RECORD:
      g_atomic_int_set (&pad->in_record, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_mix_minus_pad_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMixMinusPad *pad = GST_MIX_MINUS_PAD (object);

  switch (prop_id) {
    case PROP_PAD_MUTE:
      g_value_set_boolean (value, g_atomic_int_get (&pad->mute));
      break;
    case PROP_PAD_VOLUME:
      GST_OBJECT_LOCK (pad);
      g_value_set_double (value, pad->volume);
      GST_OBJECT_UNLOCK (pad);
      break;
    case PROP_PAD_SKIP_SILENT:
      g_value_set_boolean (value, g_atomic_int_get (&pad->skip_silent));
      break;
    case PROP_PAD_IN_RECORD:
      g_value_set_boolean (value, g_atomic_int_get (&pad->in_record));
      break;
    case PROP_PAD_SILENT:
      g_value_set_boolean (value, g_atomic_int_get (&pad->silent));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_mix_minus_pad_finalize (GObject * object)
{
  GstMixMinusPad *pad = GST_MIX_MINUS_PAD (object);

  mix_fifo_free (&pad->fifo);
  g_free (pad->own);
  gst_clear_object (&pad->minus_pad);   /* normally cleared by release_pad() */

  G_OBJECT_CLASS (gst_mix_minus_pad_parent_class)->finalize (object);
}

static void
gst_mix_minus_pad_class_init (GstMixMinusPadClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->set_property = gst_mix_minus_pad_set_property;
  gobject_class->get_property = gst_mix_minus_pad_get_property;
  gobject_class->finalize = gst_mix_minus_pad_finalize;

  /**
   * GstMixMinusPad:mute:
   *
   * When %TRUE this input contributes to no output at all (neither the
   * program nor anyone's minus) and is never waited for. Default: %FALSE.
   */
  g_object_class_install_property (gobject_class, PROP_PAD_MUTE,
      g_param_spec_boolean ("mute", "Mute",
          "Drop this input from the program and from every minus output",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMixMinusPad:volume:
   *
   * Linear gain applied to this input before mixing, 0.0 to 10.0.
   * Default: 1.0.
   */
  g_object_class_install_property (gobject_class, PROP_PAD_VOLUME,
      g_param_spec_double ("volume", "Volume",
          "Linear gain applied to this input before mixing",
          0.0, MAX_PAD_VOLUME, DEFAULT_PAD_VOLUME,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMixMinusPad:skip-silent:
   *
   * When %TRUE, minus_N carries no buffers while this input is silent: what
   * a silent speaker should hear is then exactly the program, which can be
   * encoded once for all of them. A GAP event on minus_N marks each switch
   * to silence; buffers resume with the first loud tick. Default: %FALSE.
   */
  g_object_class_install_property (gobject_class, PROP_PAD_SKIP_SILENT,
      g_param_spec_boolean ("skip-silent", "Skip when silent",
          "Push nothing on minus_N while this input is silent (a GAP marks the switch)",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMixMinusPad:in-record:
   *
   * When %FALSE this input is left out of the `record` output (a speaker who
   * opted out of the recording) but heard everywhere else. Default: %TRUE.
   */
  g_object_class_install_property (gobject_class, PROP_PAD_IN_RECORD,
      g_param_spec_boolean ("in-record", "In the recording",
          "Mix this input into the record output", TRUE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMixMinusPad:silent:
   *
   * Read-only: whether this input counts as silent now (muted, no data, or
   * below -60 dBFS for 200 ms).
   */
  g_object_class_install_property (gobject_class, PROP_PAD_SILENT,
      g_param_spec_boolean ("silent", "Silent",
          "Whether this input is currently silent", TRUE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
gst_mix_minus_pad_init (GstMixMinusPad * pad)
{
  pad->volume = DEFAULT_PAD_VOLUME;
  pad->in_record = TRUE;
  pad->minus_gain = 1.0f;
  pad->silent = TRUE;
  pad->quiet_time = SILENT_AFTER;
  pad->realign_margin_us = REALIGN_MARGIN_US;
  pad->min_residual = G_MAXUINT;
}

/* ------------------------------------------------------------------------ */
/* GstMixMinus                                                              */
/* ------------------------------------------------------------------------ */

struct _GstMixMinus
{
  GstElement parent;

  GstPad *srcpad;
  GstPad *recordpad;            /* the program without inputs that opted out */

  /* Protects everything below up to "mixer thread only", and each input's
   * FIFO and flags. The chain functions hold it for a memcpy, no longer. */
  GMutex lock;
  GCond cond;
  GPtrArray *inputs;            /* GstMixMinusPad, one ref each */

  /* Properties. */
  gboolean live;
  GstClockTime frame_duration;
  GstClockTime max_wait;
  GstClockTime idle_timeout;
  GstClockTime level_interval;
  gboolean eos_after_inputs;

  gboolean running;             /* the task may mix; FALSE to make it stop */
  gboolean eos_requested;       /* EOS sent to the element */
  gboolean waiting_for_inputs;  /* the task wants a signal on new data */

  /* Statistics ("stats"). */
  guint64 stat_ticks;
  guint64 stat_late_ticks;
  guint64 stat_underruns;
  guint64 stat_overflow;
  guint64 stat_trimmed;
  guint64 stat_catch_ups;
  guint64 stat_realigned;
  guint64 stat_holds;

  /* Mixer thread only. */
  guint frames;                 /* samples per tick */
  guint64 tick;
  GstClockTime first_pts;
  gboolean have_first;
  gboolean discont;
  gfloat *sum;
  gfloat *scratch;
  gfloat program_gain;
  gboolean src_s16;
  gfloat record_gain;
  gboolean record_s16;
  guint drain_ticks;
  GstClockTime level_elapsed;
  GstClockTime since_audio;
  guint32 stream_id;
};

enum
{
  PROP_0,
  PROP_LIVE,
  PROP_FRAME_DURATION,
  PROP_MAX_WAIT,
  PROP_IDLE_TIMEOUT,
  PROP_LEVEL_INTERVAL,
  PROP_EOS_AFTER_INPUTS,
  PROP_STATS,
};

/* What the mixer thread works on for one input in one tick. */
typedef struct
{
  GstMixMinusPad *pad;
  GstPad *minus;                /* may be NULL */
} MixTarget;

static void gst_mix_minus_child_proxy_init (gpointer g_iface,
    gpointer iface_data);

G_DEFINE_TYPE_WITH_CODE (GstMixMinus, gst_mix_minus, GST_TYPE_ELEMENT,
    G_IMPLEMENT_INTERFACE (GST_TYPE_CHILD_PROXY,
        gst_mix_minus_child_proxy_init);
    GST_DEBUG_CATEGORY_INIT (gst_mix_minus_debug, "mixminus", 0,
        "Mix-minus audio mixer"));

GST_ELEMENT_REGISTER_DEFINE (mixminus, "mixminus", GST_RANK_NONE,
    GST_TYPE_MIX_MINUS);

static guint
frames_for (GstClockTime duration)
{
  return (guint) gst_util_uint64_scale_int (duration, RATE, GST_SECOND);
}

/* --- Waiting ------------------------------------------------------------ */

/* Waits on the condition until clock time `target` (or a signal); lock held.
 * The pipeline clock is mapped onto the monotonic clock that GCond uses. */
static void
wait_until_clock_time (GstMixMinus * self, GstClock * clock,
    GstClockTime target)
{
  GstClockTime now = gst_clock_get_time (clock);
  gint64 until;

  if (now >= target)
    return;
  until = g_get_monotonic_time () + (gint64) ((target - now) / GST_USECOND) + 1;
  g_cond_wait_until (&self->cond, &self->lock, until);
}

/* Live: whether a tick waits for this input: it is sending (within
 * idle-timeout) and has not been silent for long. Mixer thread, lock held
 * (quiet_time is the mixer thread's own). */
static gboolean
input_awaited (GstMixMinus * self, GstMixMinusPad * pad, gint64 now_us)
{
  return !pad->eos && !g_atomic_int_get (&pad->mute) && pad->last_data_us != 0
      && now_us - pad->last_data_us <= (gint64) (self->idle_timeout / GST_USECOND)
      && pad->quiet_time < AWAIT_QUIET_AFTER;
}

/* Live: whether every awaited input has a full frame; lock held. */
static gboolean
inputs_ready_live (GstMixMinus * self, gint64 now_us)
{
  for (guint i = 0; i < self->inputs->len; i++) {
    GstMixMinusPad *pad = g_ptr_array_index (self->inputs, i);

    if (pad->fifo.length < self->frames && input_awaited (self, pad, now_us))
      return FALSE;
  }
  return TRUE;
}

/* Live, as a tick becomes due (see Realigning above): an awaited input
 * whose frame already waits, whose next frame should come before
 * `deadline_us` with its margin to spare, loses that frame if it is quiet.
 * Lock held. */
static void
realign_inputs_at_due (GstMixMinus * self, gint64 now_us, gint64 deadline_us)
{
  const guint frames = self->frames;
  const gint64 frame_us = (gint64) (self->frame_duration / GST_USECOND);

  for (guint i = 0; i < self->inputs->len; i++) {
    GstMixMinusPad *pad = g_ptr_array_index (self->inputs, i);
    gint64 next_us;

    if (pad->fifo.length < frames || !input_awaited (self, pad, now_us))
      continue;
    /* Its queued frames are what makes the next loss come in time. */
    if (pad->hold > 0)
      continue;
    /* A whole frame more than the tick needs, found on time (a burst after
     * a late packet): a quiet one goes now, not when trimming comes round. */
    if (pad->fifo.length >= 2 * frames) {
      if (mix_fifo_peak (&pad->fifo, frames) <= REALIGN_LEVEL)
        self->stat_realigned += mix_fifo_skip (&pad->fifo, frames);
      continue;
    }
    next_us = pad->full_since_us + frame_us;
    if (next_us <= now_us || deadline_us - next_us < pad->realign_margin_us)
      continue;
    if (mix_fifo_peak (&pad->fifo, frames) > REALIGN_LEVEL)
      continue;
    self->stat_realigned += mix_fifo_skip (&pad->fifo, frames);
    GST_DEBUG_OBJECT (pad, "realigned: its next frame is due in %"
        G_GINT64_FORMAT " us and leaves as it comes", next_us - now_us);
  }
}

/* Not live: every input that has not ended has a full frame, and there is
 * at least one input with audio or every input has ended. */
static gboolean
inputs_ready_offline (GstMixMinus * self, gboolean * all_ended)
{
  gboolean any_data = FALSE;

  *all_ended = self->inputs->len > 0;
  for (guint i = 0; i < self->inputs->len; i++) {
    GstMixMinusPad *pad = g_ptr_array_index (self->inputs, i);

    if (pad->fifo.length > 0)
      any_data = TRUE;
    if (pad->eos)
      continue;
    *all_ended = FALSE;
    if (pad->fifo.length < self->frames)
      return FALSE;
  }
  return self->inputs->len > 0 && (any_data || *all_ended);
}

static gboolean
all_inputs_ended_and_empty (GstMixMinus * self)
{
  if (self->inputs->len == 0)
    return FALSE;
  for (guint i = 0; i < self->inputs->len; i++) {
    GstMixMinusPad *pad = g_ptr_array_index (self->inputs, i);
    if (!pad->eos || pad->fifo.length > 0)
      return FALSE;
  }
  return TRUE;
}

/* Live: sleeps until the current tick is due, then until its awaited inputs
 * are in or max-wait has passed. Returns FALSE when told to stop; lock held. */
static gboolean
wait_for_tick_live (GstMixMinus * self)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  GstClockTime base, now, due, deadline;

  if (!clock)
    clock = gst_system_clock_obtain ();
  base = gst_element_get_base_time (GST_ELEMENT (self));
  now = gst_clock_get_time (clock);

  if (!self->have_first) {
    self->first_pts = now > base ? now - base : 0;
    self->tick = 0;
    self->have_first = TRUE;
    self->discont = TRUE;
  }
  due = base + self->first_pts + (self->tick + 1) * self->frame_duration;
  if (now > due + CATCH_UP_FRAMES * self->frame_duration) {
    /* We were starved (CPU, a debugger): continue from now, not from then. */
    self->tick = (now - base - self->first_pts) / self->frame_duration - 1;
    due = base + self->first_pts + (self->tick + 1) * self->frame_duration;
    self->discont = TRUE;
    self->stat_catch_ups++;
  }

  while (self->running && !self->eos_requested && gst_clock_get_time (clock) < due)
    wait_until_clock_time (self, clock, due);

  deadline = due + self->max_wait;
  now = gst_clock_get_time (clock);
  /* Only on time: a mixer thread that woke late finds frames that are
   * waiting because of it, not because of when the inputs send. */
  if (now < due + REALIGN_ON_TIME && now < deadline) {
    const gint64 now_us = g_get_monotonic_time ();
    realign_inputs_at_due (self, now_us,
        now_us + (gint64) ((deadline - now) / GST_USECOND));
  }
  self->waiting_for_inputs = TRUE;
  while (self->running && !self->eos_requested
      && !inputs_ready_live (self, g_get_monotonic_time ())) {
    if (gst_clock_get_time (clock) >= deadline) {
      self->stat_late_ticks++;
      break;
    }
    wait_until_clock_time (self, clock, deadline);
  }
  self->waiting_for_inputs = FALSE;

  gst_object_unref (clock);
  return self->running;
}

static gboolean
wait_for_tick_offline (GstMixMinus * self)
{
  gboolean all_ended = FALSE;

  self->waiting_for_inputs = TRUE;
  while (self->running && !self->eos_requested
      && !inputs_ready_offline (self, &all_ended)
      && !(self->eos_after_inputs && all_inputs_ended_and_empty (self)))
    g_cond_wait (&self->cond, &self->lock);
  self->waiting_for_inputs = FALSE;
  return self->running;
}

/* --- Taking a tick's audio ---------------------------------------------- */

static void
minus_target_clear (gpointer data)
{
  MixTarget *t = data;

  gst_object_unref (t->pad);
  if (t->minus)
    gst_object_unref (t->minus);
}

/* Moves one frame from every input into its `own` scratch; lock held.
 * Returns the inputs (with their minus pads) for the rest of the tick. */
static GArray *
take_frames_locked (GstMixMinus * self)
{
  const guint frames = self->frames;
  const gint64 now_us = g_get_monotonic_time ();
  gboolean drain = FALSE;
  GArray *targets = g_array_sized_new (FALSE, FALSE, sizeof (MixTarget),
      self->inputs->len);

  g_array_set_clear_func (targets, minus_target_clear);
  if (self->live && ++self->drain_ticks >= DRAIN_TICKS) {
    self->drain_ticks = 0;
    drain = TRUE;
  }

  for (guint i = 0; i < self->inputs->len; i++) {
    GstMixMinusPad *pad = g_ptr_array_index (self->inputs, i);
    MixTarget t = { gst_object_ref (pad),
      pad->minus_pad ? gst_object_ref (pad->minus_pad) : NULL
    };
    guint got = 0;

    if (pad->own_frames < frames) {
      g_free (pad->own);
      pad->own = g_new (gfloat, frames);
      pad->own_frames = frames;
    }
    if (pad->fifo.length > 0) {
      if (g_atomic_int_get (&pad->mute)) {
        mix_fifo_skip (&pad->fifo, frames);
      } else {
        gfloat gain;
        GST_OBJECT_LOCK (pad);
        gain = (gfloat) pad->volume;
        GST_OBJECT_UNLOCK (pad);
        got = mix_fifo_pop (&pad->fifo, pad->own, frames, gain);
        if (got < frames)
          memset (pad->own + got, 0, (frames - got) * sizeof (gfloat));
      }
    }
    pad->contributed = got > 0;

    /* A frame there now, after a tick that went without: it came too late
     * for the wait (rather than stopping), so realign this input less
     * eagerly. */
    if (pad->short_last_tick && got == frames) {
      pad->realign_margin_us = MIN (2 * pad->realign_margin_us, G_GINT64_CONSTANT (1000000));
      pad->clean_windows = 0;
    }
    pad->short_last_tick = self->live && got < frames && input_awaited (self, pad, now_us);
    if (pad->short_last_tick)
      self->stat_underruns++;
    /* Holding (see above): a miss adds a frame of delay; a hold that was
     * needed (a frame came late) is kept on; one unneeded for long ends. */
    if (pad->short_last_tick && pad->hold < MAX_HOLD_FRAMES) {
      pad->hold++;
      self->stat_holds++;
      GST_DEBUG_OBJECT (pad, "missed a tick: holding %u frame(s)", pad->hold);
    }
    if (pad->short_last_tick || (pad->hold > 0
            && pad->fifo.length < pad->hold * frames))
      pad->hold_until = self->tick + HOLD_TICKS;
    if (pad->hold > 0 && self->tick >= pad->hold_until) {
      GST_DEBUG_OBJECT (pad, "no loss for %u ticks: hold released", HOLD_TICKS);
      pad->hold = 0;
    }
    /* A frame still queued came at the latest with the newest data. */
    if (pad->fifo.length >= frames)
      pad->full_since_us = pad->last_data_us;

    pad->min_residual = MIN (pad->min_residual, pad->fifo.length);
    if (drain) {
      const guint kept = pad->hold * frames;
      if (pad->min_residual != G_MAXUINT && pad->min_residual > kept + frames / 4)
        self->stat_trimmed += mix_fifo_skip (&pad->fifo,
            pad->min_residual - kept);
      pad->min_residual = G_MAXUINT;
      /* REALIGN_CALM_WINDOWS without a miss halve the margin again. */
      if (++pad->clean_windows >= REALIGN_CALM_WINDOWS) {
        pad->realign_margin_us = MAX (pad->realign_margin_us / 2, REALIGN_MARGIN_US);
        pad->clean_windows = 0;
      }
    }
    g_array_append_val (targets, t);
  }
  return targets;
}

/* --- Output plumbing ---------------------------------------------------- */

/* Sends stream-start, caps and segment when the pad lacks them, and picks
 * the format downstream takes (F32LE when both are fine). *s16 caches the
 * choice between negotiations. */
static gboolean
ensure_headers (GstMixMinus * self, GstPad * pad, gboolean * s16)
{
  GstEvent *event;

  event = gst_pad_get_sticky_event (pad, GST_EVENT_STREAM_START, 0);
  if (event) {
    gst_event_unref (event);
  } else {
    gchar *id = g_strdup_printf ("mixminus-%08x/%s", self->stream_id,
        GST_OBJECT_NAME (pad));
    gst_pad_push_event (pad, gst_event_new_stream_start (id));
    g_free (id);
  }

  if (gst_pad_check_reconfigure (pad) || !gst_pad_has_current_caps (pad)) {
    GstCaps *f32 = gst_caps_from_string (F32_CAPS);
    GstCaps *s16caps = gst_caps_from_string (S16_CAPS);
    GstCaps *peer = gst_pad_peer_query_caps (pad, NULL);
    GstCaps *chosen = NULL;

    if (gst_caps_can_intersect (peer, f32))
      chosen = gst_caps_ref (f32);
    else if (gst_caps_can_intersect (peer, s16caps))
      chosen = gst_caps_ref (s16caps);
    gst_caps_unref (peer);
    gst_caps_unref (f32);
    gst_caps_unref (s16caps);
    if (!chosen) {
      GST_DEBUG_OBJECT (pad, "downstream takes neither F32LE nor S16LE");
      gst_pad_mark_reconfigure (pad);
      return FALSE;
    }
    *s16 = g_str_equal (gst_structure_get_string (gst_caps_get_structure
            (chosen, 0), "format"), "S16LE");
    if (!gst_pad_push_event (pad, gst_event_new_caps (chosen))) {
      gst_caps_unref (chosen);
      gst_pad_mark_reconfigure (pad);
      return FALSE;
    }
    gst_caps_unref (chosen);
  }

  event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  if (event) {
    gst_event_unref (event);
  } else {
    GstSegment segment;
    gst_segment_init (&segment, GST_FORMAT_TIME);
    gst_pad_push_event (pad, gst_event_new_segment (&segment));
  }
  return TRUE;
}

/* A buffer of `frames` samples from `samples`, in the pad's format. */
static GstBuffer *
make_output_buffer (GstMixMinus * self, const gfloat * samples, gboolean s16,
    GstClockTime pts)
{
  const guint frames = self->frames;
  GstBuffer *buf = gst_buffer_new_allocate (NULL,
      frames * (s16 ? sizeof (gint16) : sizeof (gfloat)), NULL);
  GstMapInfo map;

  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  if (s16)
    mix_to_s16 (samples, (gint16 *) map.data, frames);
  else
    memcpy (map.data, samples, frames * sizeof (gfloat));
  gst_buffer_unmap (buf, &map);

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = self->frame_duration;
  GST_BUFFER_OFFSET (buf) = self->tick * frames;
  GST_BUFFER_OFFSET_END (buf) = (self->tick + 1) * frames;
  if (self->discont)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  return buf;
}

static void
push_eos_if_started (GstPad * pad)
{
  GstEvent *start = gst_pad_get_sticky_event (pad, GST_EVENT_STREAM_START, 0);

  if (!start)
    return;
  gst_event_unref (start);
  gst_pad_push_event (pad, gst_event_new_eos ());
}

/* Silence run and level of one input after this tick's take. */
static gboolean
update_silence (GstMixMinus * self, GstMixMinusPad * pad)
{
  gboolean loud = FALSE;

  if (pad->contributed) {
    gdouble sumsq = 0.0;
    for (guint i = 0; i < self->frames; i++) {
      gfloat v = pad->own[i];
      sumsq += (gdouble) v * v;
      loud |= fabsf (v) > SILENCE_LEVEL;
    }
    pad->level_sumsq += sumsq;
    pad->level_frames += self->frames;
  }
  if (loud)
    pad->quiet_time = 0;
  else if (pad->quiet_time < AWAIT_QUIET_AFTER)
    pad->quiet_time += self->frame_duration;
  g_atomic_int_set (&pad->silent, pad->quiet_time >= SILENT_AFTER);
  return pad->quiet_time >= SILENT_AFTER;
}

static void
post_levels (GstMixMinus * self, GArray * targets)
{
  GValue pads = G_VALUE_INIT, rms = G_VALUE_INIT, v = G_VALUE_INIT;
  GstStructure *s;

  g_value_init (&pads, GST_TYPE_ARRAY);
  g_value_init (&rms, GST_TYPE_ARRAY);
  for (guint i = 0; i < targets->len; i++) {
    GstMixMinusPad *pad = g_array_index (targets, MixTarget, i).pad;
    gdouble db;

    if (pad->level_frames == 0)
      continue;
    db = 10.0 * log10 (pad->level_sumsq / (gdouble) pad->level_frames + 1e-20);
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, GST_OBJECT_NAME (pad));
    gst_value_array_append_and_take_value (&pads, &v);
    memset (&v, 0, sizeof (v));
    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, MAX (db, -200.0));
    gst_value_array_append_and_take_value (&rms, &v);
    memset (&v, 0, sizeof (v));
    pad->level_sumsq = 0.0;
    pad->level_frames = 0;
  }
  s = gst_structure_new_empty ("mixminus-levels");
  gst_structure_take_value (s, "pads", &pads);
  gst_structure_take_value (s, "rms-db", &rms);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* Not-linked, flushing or EOS on one listener's branch must not stop the
 * program. */
static void
note_minus_flow (GstPad * minus, GstFlowReturn ret)
{
  if (ret < GST_FLOW_EOS)
    GST_WARNING_OBJECT (minus, "branch returned %s", gst_flow_get_name (ret));
}

/* One subtraction per sample and listener: O(N) for N inputs. */
static void
push_minus_outputs (GstMixMinus * self, GArray * targets, GstClockTime pts)
{
  const guint frames = self->frames;

  for (guint i = 0; i < targets->len; i++) {
    MixTarget *t = &g_array_index (targets, MixTarget, i);
    GstMixMinusPad *pad = t->pad;
    gboolean silent = update_silence (self, pad);
    gboolean *s16 = &pad->minus_s16;

    if (!t->minus || !gst_pad_is_linked (t->minus))
      continue;
    if (silent && g_atomic_int_get (&pad->skip_silent)) {
      if (!pad->gap_sent && ensure_headers (self, t->minus, s16)) {
        gst_pad_push_event (t->minus, gst_event_new_gap (pts,
                self->frame_duration));
        pad->gap_sent = TRUE;
      }
      continue;
    }
    pad->gap_sent = FALSE;
    if (!ensure_headers (self, t->minus, s16))
      continue;

    if (pad->contributed) {
      for (guint k = 0; k < frames; k++)
        self->scratch[k] = self->sum[k] - pad->own[k];
    } else {
      memcpy (self->scratch, self->sum, frames * sizeof (gfloat));
    }
    mix_limit (self->scratch, frames, &pad->minus_gain, RATE);
    note_minus_flow (t->minus, gst_pad_push (t->minus,
            make_output_buffer (self, self->scratch, *s16, pts)));
  }
}

static GstFlowReturn
push_program (GstMixMinus * self, GstClockTime pts)
{
  if (!ensure_headers (self, self->srcpad, &self->src_s16))
    return GST_FLOW_NOT_NEGOTIATED;
  memcpy (self->scratch, self->sum, self->frames * sizeof (gfloat));
  mix_limit (self->scratch, self->frames, &self->program_gain, RATE);
  return gst_pad_push (self->srcpad,
      make_output_buffer (self, self->scratch, self->src_s16, pts));
}

/* The recording's mix: the program, without the inputs that opted out. */
static void
push_record (GstMixMinus * self, GArray * targets, GstClockTime pts)
{
  gboolean all_in = TRUE;

  if (!gst_pad_is_linked (self->recordpad))
    return;
  for (guint i = 0; i < targets->len && all_in; i++) {
    GstMixMinusPad *pad = g_array_index (targets, MixTarget, i).pad;
    all_in = !pad->contributed || g_atomic_int_get (&pad->in_record);
  }
  if (all_in) {
    memcpy (self->scratch, self->sum, self->frames * sizeof (gfloat));
  } else {
    memset (self->scratch, 0, self->frames * sizeof (gfloat));
    for (guint i = 0; i < targets->len; i++) {
      GstMixMinusPad *pad = g_array_index (targets, MixTarget, i).pad;
      if (!pad->contributed || !g_atomic_int_get (&pad->in_record))
        continue;
      for (guint k = 0; k < self->frames; k++)
        self->scratch[k] += pad->own[k];
    }
  }
  if (!ensure_headers (self, self->recordpad, &self->record_s16))
    return;
  mix_limit (self->scratch, self->frames, &self->record_gain, RATE);
  note_minus_flow (self->recordpad, gst_pad_push (self->recordpad,
          make_output_buffer (self, self->scratch, self->record_s16, pts)));
}

static void
push_eos_everywhere (GstMixMinus * self)
{
  GPtrArray *minus = g_ptr_array_new_with_free_func (gst_object_unref);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->inputs->len; i++) {
    GstMixMinusPad *pad = g_ptr_array_index (self->inputs, i);
    if (pad->minus_pad)
      g_ptr_array_add (minus, gst_object_ref (pad->minus_pad));
  }
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < minus->len; i++)
    push_eos_if_started (g_ptr_array_index (minus, i));
  /* The program always gets EOS (sinks wait for it), with headers first if
   * nothing was mixed yet. */
  ensure_headers (self, self->srcpad, &self->src_s16);
  gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  push_eos_if_started (self->recordpad);
  g_ptr_array_unref (minus);
}

/* --- The mixer thread ---------------------------------------------------- */

static void
gst_mix_minus_loop (gpointer data)
{
  GstMixMinus *self = GST_MIX_MINUS (data);
  GArray *targets;
  GstClockTime pts;
  GstFlowReturn ret;
  gboolean ok, eos, any_audio = FALSE;

  g_mutex_lock (&self->lock);
  ok = self->live ? wait_for_tick_live (self) : wait_for_tick_offline (self);
  if (!ok) {
    g_mutex_unlock (&self->lock);
    gst_pad_pause_task (self->srcpad);
    return;
  }
  eos = self->eos_requested
      || (self->eos_after_inputs && all_inputs_ended_and_empty (self));
  if (eos) {
    self->running = FALSE;
    g_mutex_unlock (&self->lock);
    GST_INFO_OBJECT (self, "end of stream after %" G_GUINT64_FORMAT " ticks",
        self->tick);
    push_eos_everywhere (self);
    gst_pad_pause_task (self->srcpad);
    return;
  }
  targets = take_frames_locked (self);
  self->stat_ticks++;
  if (!self->live)
    g_cond_broadcast (&self->cond);     /* chains waiting for room */
  g_mutex_unlock (&self->lock);

  pts = self->first_pts + self->tick * self->frame_duration;
  memset (self->sum, 0, self->frames * sizeof (gfloat));
  for (guint i = 0; i < targets->len; i++) {
    GstMixMinusPad *pad = g_array_index (targets, MixTarget, i).pad;
    if (!pad->contributed)
      continue;
    any_audio = TRUE;
    for (guint k = 0; k < self->frames; k++)
      self->sum[k] += pad->own[k];
  }

  /* The minus outputs go first: they are what the speakers wait for. */
  push_minus_outputs (self, targets, pts);
  if (self->level_interval > 0) {
    self->since_audio = any_audio ? 0 : self->since_audio + self->frame_duration;
    self->level_elapsed += self->frame_duration;
    if (self->level_elapsed >= self->level_interval) {
      self->level_elapsed = 0;
      if (self->since_audio < LEVEL_TAIL)
        post_levels (self, targets);
    }
  }
  ret = push_program (self, pts);
  push_record (self, targets, pts);
  self->discont = FALSE;

  g_array_unref (targets);
  self->tick++;

  if (ret == GST_FLOW_FLUSHING && GST_PAD_IS_FLUSHING (self->srcpad)) {
    GST_DEBUG_OBJECT (self, "flushing, pausing");
    gst_pad_pause_task (self->srcpad);
  } else if (ret == GST_FLOW_FLUSHING || ret == GST_FLOW_EOS) {
    /* A branch downstream is stopping (an output being removed): the mix
     * goes on for the others. */
    GST_DEBUG_OBJECT (self, "program branch returned %s", gst_flow_get_name (ret));
  } else if (ret < GST_FLOW_EOS) {
    GST_ELEMENT_FLOW_ERROR (self, ret);
    push_eos_everywhere (self);
    gst_pad_pause_task (self->srcpad);
  }
}

static gboolean
start_task (GstMixMinus * self)
{
  g_mutex_lock (&self->lock);
  self->running = TRUE;
  self->have_first = FALSE;
  if (!self->live)
    self->first_pts = 0;
  self->frames = frames_for (self->frame_duration);
  g_free (self->sum);
  g_free (self->scratch);
  self->sum = g_new0 (gfloat, self->frames);
  self->scratch = g_new0 (gfloat, self->frames);
  g_mutex_unlock (&self->lock);
  return gst_pad_start_task (self->srcpad, gst_mix_minus_loop, self, NULL);
}

static void
stop_task (GstMixMinus * self, gboolean pause_only)
{
  g_mutex_lock (&self->lock);
  self->running = FALSE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  if (pause_only)
    gst_pad_pause_task (self->srcpad);
  else
    gst_pad_stop_task (self->srcpad);
}

/* --- Sink pads ------------------------------------------------------------ */

static GstFlowReturn
gst_mix_minus_sink_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstMixMinus *self = GST_MIX_MINUS (parent);
  GstMixMinusPad *mpad = GST_MIX_MINUS_PAD (pad);
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo map;
  guint n;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }

  g_mutex_lock (&self->lock);
  n = map.size / (mpad->s16 ? sizeof (gint16) : sizeof (gfloat));
  if (mpad->flushing) {
    ret = GST_FLOW_FLUSHING;
  } else if (mpad->eos) {
    ret = GST_FLOW_EOS;
  } else if (self->live) {
    /* Never block a network thread: a muted input is dropped here, and a
     * full FIFO loses its oldest audio. */
    if (!g_atomic_int_get (&mpad->mute)) {
      const gboolean had_frame = mpad->fifo.length >= self->frames;
      if (mpad->fifo.capacity < LIVE_FIFO_FRAMES * self->frames)
        mix_fifo_reserve (&mpad->fifo, LIVE_FIFO_FRAMES * self->frames);
      self->stat_overflow += mix_fifo_push (&mpad->fifo, map.data, n,
          mpad->s16);
      mpad->last_data_us = g_get_monotonic_time ();
      if (!had_frame && mpad->fifo.length >= self->frames)
        mpad->full_since_us = mpad->last_data_us;
      if (self->waiting_for_inputs)
        g_cond_broadcast (&self->cond);
    }
  } else {
    /* Offline: wait for room, like any element with a bounded queue. */
    mix_fifo_reserve (&mpad->fifo, 4 * self->frames + n);
    while (!mpad->flushing && mpad->fifo.length + n > mpad->fifo.capacity)
      g_cond_wait (&self->cond, &self->lock);
    if (mpad->flushing) {
      ret = GST_FLOW_FLUSHING;
    } else {
      mix_fifo_push (&mpad->fifo, map.data, n, mpad->s16);
      mpad->last_data_us = g_get_monotonic_time ();
      g_cond_broadcast (&self->cond);
    }
  }
  g_mutex_unlock (&self->lock);

  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  return ret;
}

static gboolean
accept_format (GstCaps * caps, gboolean * s16)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *format = gst_structure_get_string (s, "format");
  gint rate = 0, channels = 0;

  if (!format || !gst_structure_get_int (s, "rate", &rate)
      || !gst_structure_get_int (s, "channels", &channels))
    return FALSE;
  if (rate != RATE || channels != 1)
    return FALSE;
  if (g_str_equal (format, "S16LE"))
    *s16 = TRUE;
  else if (g_str_equal (format, "F32LE"))
    *s16 = FALSE;
  else
    return FALSE;
  return TRUE;
}

static gboolean
gst_mix_minus_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstMixMinus *self = GST_MIX_MINUS (parent);
  GstMixMinusPad *mpad = GST_MIX_MINUS_PAD (pad);
  gboolean ret = TRUE;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gboolean s16 = FALSE;

      gst_event_parse_caps (event, &caps);
      ret = accept_format (caps, &s16);
      if (ret) {
        g_mutex_lock (&self->lock);
        if (s16 != mpad->s16)
          mix_fifo_clear (&mpad->fifo);
        mpad->s16 = s16;
        g_mutex_unlock (&self->lock);
      }
      break;
    }
    case GST_EVENT_EOS:
      g_mutex_lock (&self->lock);
      mpad->eos = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      break;
    case GST_EVENT_FLUSH_START:
      g_mutex_lock (&self->lock);
      mpad->flushing = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      break;
    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&self->lock);
      mpad->flushing = FALSE;
      mpad->eos = FALSE;
      mix_fifo_clear (&mpad->fifo);
      mpad->hold = 0;
      g_mutex_unlock (&self->lock);
      break;
    default:
      /* Segments, tags, gaps, stream-start: each input's stream is its own
       * business; the mix has a timeline of its own. */
      break;
  }
  gst_event_unref (event);
  return ret;
}

static gboolean
gst_mix_minus_sink_query (GstPad * pad, GstObject * parent G_GNUC_UNUSED,
    GstQuery * query)
{
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:{
      GstCaps *filter, *templ = gst_pad_get_pad_template_caps (pad), *result;

      gst_query_parse_caps (query, &filter);
      result = filter ? gst_caps_intersect_full (filter, templ,
          GST_CAPS_INTERSECT_FIRST) : gst_caps_ref (templ);
      gst_query_set_caps_result (query, result);
      gst_caps_unref (result);
      gst_caps_unref (templ);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS:{
      GstCaps *caps;
      gboolean s16;

      gst_query_parse_accept_caps (query, &caps);
      gst_query_set_accept_caps_result (query, gst_caps_is_fixed (caps)
          && accept_format (caps, &s16));
      return TRUE;
    }
    case GST_QUERY_DRAIN:
      return TRUE;
    default:
      /* Nothing upstream may learn about the mix through an input. */
      return FALSE;
  }
}

static gboolean
gst_mix_minus_sink_activate_mode (GstPad * pad, GstObject * parent,
    GstPadMode mode, gboolean active)
{
  GstMixMinus *self = GST_MIX_MINUS (parent);
  GstMixMinusPad *mpad = GST_MIX_MINUS_PAD (pad);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  g_mutex_lock (&self->lock);
  mpad->flushing = !active;
  if (active) {
    mpad->eos = FALSE;
    mix_fifo_clear (&mpad->fifo);
    mpad->last_data_us = 0;
    mpad->realign_margin_us = REALIGN_MARGIN_US;
    mpad->clean_windows = 0;
    mpad->short_last_tick = FALSE;
  }
  /* Wakes a chain function waiting for room (offline mode). */
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* --- Source pads ---------------------------------------------------------- */

static gboolean
gst_mix_minus_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstMixMinus *self = GST_MIX_MINUS (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY:
      /* A tick leaves when its frame is complete, up to max-wait later. */
      if (self->live)
        gst_query_set_latency (query, TRUE,
            self->frame_duration + self->max_wait, GST_CLOCK_TIME_NONE);
      else
        gst_query_set_latency (query, FALSE, 0, GST_CLOCK_TIME_NONE);
      return TRUE;
    case GST_QUERY_CAPS:{
      GstCaps *filter, *templ = gst_pad_get_pad_template_caps (pad), *result;

      gst_query_parse_caps (query, &filter);
      result = filter ? gst_caps_intersect_full (filter, templ,
          GST_CAPS_INTERSECT_FIRST) : gst_caps_ref (templ);
      gst_query_set_caps_result (query, result);
      gst_caps_unref (result);
      gst_caps_unref (templ);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
gst_mix_minus_src_event (GstPad * pad, GstObject * parent G_GNUC_UNUSED,
    GstEvent * event)
{
  gboolean is_seek = GST_EVENT_TYPE (event) == GST_EVENT_SEEK;

  /* Reconfigure has already flagged the pad; seeks, QoS and latency do not
   * apply to a live mix that nobody else drives. */
  GST_LOG_OBJECT (pad, "dropping upstream %" GST_PTR_FORMAT, event);
  gst_event_unref (event);
  return !is_seek;
}

static gboolean
gst_mix_minus_src_activate_mode (GstPad * pad G_GNUC_UNUSED, GstObject * parent,
    GstPadMode mode, gboolean active)
{
  GstMixMinus *self = GST_MIX_MINUS (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (!active) {
    stop_task (self, FALSE);
    return TRUE;
  }
  /* A live mix starts ticking in PLAYING; an offline one at once. */
  return self->live ? TRUE : start_task (self);
}

/* --- minus pads ----------------------------------------------------------- */

static void
add_minus_pad (GstMixMinus * self, GstMixMinusPad * sinkpad)
{
  const gchar *serial = strrchr (GST_OBJECT_NAME (sinkpad), '_');
  gchar *name = g_strdup_printf ("minus_%s", serial ? serial + 1 : "0");
  GstPad *minus = gst_pad_new_from_static_template (&minus_template, name);

  g_free (name);
  gst_pad_set_query_function (minus, gst_mix_minus_src_query);
  gst_pad_set_event_function (minus, gst_mix_minus_src_event);

  g_mutex_lock (&self->lock);
  sinkpad->minus_pad = gst_object_ref (minus);
  g_mutex_unlock (&self->lock);

  /* Activates the pad if we are running and emits pad-added. */
  gst_element_add_pad (GST_ELEMENT (self), minus);
}

/* --- GstElement ----------------------------------------------------------- */

static GstPad *
gst_mix_minus_request_new_pad (GstElement * element, GstPadTemplate * templ,
    const gchar * req_name, const GstCaps * caps)
{
  GstMixMinus *self = GST_MIX_MINUS (element);
  GstMixMinusPad *pad;
  gchar *name = NULL;
  guint serial = 0;

  (void) caps;
  if (templ->direction != GST_PAD_SINK)
    return NULL;

  GST_OBJECT_LOCK (self);
  if (req_name && sscanf (req_name, "sink_%u", &serial) == 1) {
    name = g_strdup (req_name);
  } else {
    /* The lowest free number, so names stay short in long rooms. */
    for (serial = 0;; serial++) {
      gboolean taken = FALSE;
      g_free (name);
      name = g_strdup_printf ("sink_%u", serial);
      for (GList * l = element->sinkpads; l && !taken; l = l->next)
        taken = g_str_equal (GST_OBJECT_NAME (l->data), name);
      if (!taken)
        break;
    }
  }
  GST_OBJECT_UNLOCK (self);

  pad = g_object_new (GST_TYPE_MIX_MINUS_PAD, "name", name,
      "direction", GST_PAD_SINK, "template", templ, NULL);
  g_free (name);
  mix_fifo_init (&pad->fifo, LIVE_FIFO_FRAMES * frames_for (self->frame_duration));
  gst_pad_set_chain_function (GST_PAD (pad), gst_mix_minus_sink_chain);
  gst_pad_set_event_function (GST_PAD (pad), gst_mix_minus_sink_event);
  gst_pad_set_query_function (GST_PAD (pad), gst_mix_minus_sink_query);
  gst_pad_set_activatemode_function (GST_PAD (pad),
      gst_mix_minus_sink_activate_mode);

  if (!gst_element_add_pad (element, GST_PAD (pad))) {
    gst_object_unref (pad);
    return NULL;
  }
  /* Created before returning so gst-launch and apps can link minus_N as
   * soon as sink_N exists. */
  add_minus_pad (self, pad);

  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->inputs, gst_object_ref (pad));
  g_mutex_unlock (&self->lock);

  gst_child_proxy_child_added (GST_CHILD_PROXY (self), G_OBJECT (pad),
      GST_OBJECT_NAME (pad));
  GST_DEBUG_OBJECT (self, "added %s", GST_OBJECT_NAME (pad));
  return GST_PAD (pad);
}

static void
gst_mix_minus_release_pad (GstElement * element, GstPad * pad)
{
  GstMixMinus *self = GST_MIX_MINUS (element);
  GstMixMinusPad *mpad = GST_MIX_MINUS_PAD (pad);
  GstPad *minus;

  g_mutex_lock (&self->lock);
  minus = g_steal_pointer (&mpad->minus_pad);
  mpad->flushing = TRUE;
  g_ptr_array_remove (self->inputs, mpad);      /* drops the array's ref */
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  if (minus) {
    /* Let whatever serves this participant drain and finish cleanly. */
    push_eos_if_started (minus);
    gst_pad_set_active (minus, FALSE);
    if (gst_object_has_as_parent (GST_OBJECT (minus), GST_OBJECT (self)))
      gst_element_remove_pad (element, minus);
    gst_object_unref (minus);
  }

  gst_child_proxy_child_removed (GST_CHILD_PROXY (self), G_OBJECT (pad),
      GST_OBJECT_NAME (pad));
  GST_DEBUG_OBJECT (self, "released %s", GST_OBJECT_NAME (pad));
  gst_element_remove_pad (element, pad);
}

static gboolean
gst_mix_minus_send_event (GstElement * element, GstEvent * event)
{
  GstMixMinus *self = GST_MIX_MINUS (element);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    /* Ending the mix itself (a room closing): every output gets EOS after
     * the tick in progress. */
    g_mutex_lock (&self->lock);
    self->eos_requested = TRUE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    gst_event_unref (event);
    return TRUE;
  }
  return GST_ELEMENT_CLASS (gst_mix_minus_parent_class)->send_event (element,
      event);
}

static GstStateChangeReturn
gst_mix_minus_change_state (GstElement * element, GstStateChange transition)
{
  GstMixMinus *self = GST_MIX_MINUS (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      g_mutex_lock (&self->lock);
      self->eos_requested = FALSE;
      self->tick = 0;
      self->drain_ticks = 0;
      self->program_gain = 1.0f;
      self->record_gain = 1.0f;
      self->stream_id = g_random_int ();
      g_mutex_unlock (&self->lock);
      break;
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      if (self->live)
        stop_task (self, TRUE);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (gst_mix_minus_parent_class)->change_state (element,
      transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
      if (self->live && !start_task (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      if (self->live)
        ret = GST_STATE_CHANGE_NO_PREROLL;
      break;
    default:
      break;
  }
  return ret;
}

/* --- GstChildProxy: sink_N::volume=... on launch lines ------------------- */

static GObject *
gst_mix_minus_child_proxy_get_child_by_index (GstChildProxy * proxy,
    guint index)
{
  GObject *child;

  GST_OBJECT_LOCK (proxy);
  child = g_list_nth_data (GST_ELEMENT (proxy)->sinkpads, index);
  if (child)
    g_object_ref (child);
  GST_OBJECT_UNLOCK (proxy);
  return child;
}

static guint
gst_mix_minus_child_proxy_get_children_count (GstChildProxy * proxy)
{
  guint count;

  GST_OBJECT_LOCK (proxy);
  count = GST_ELEMENT (proxy)->numsinkpads;
  GST_OBJECT_UNLOCK (proxy);
  return count;
}

static void
gst_mix_minus_child_proxy_init (gpointer g_iface, gpointer iface_data)
{
  GstChildProxyInterface *iface = g_iface;

  (void) iface_data;
  iface->get_child_by_index = gst_mix_minus_child_proxy_get_child_by_index;
  iface->get_children_count = gst_mix_minus_child_proxy_get_children_count;
}

/* --- GObject -------------------------------------------------------------- */

static GstStructure *
gst_mix_minus_stats (GstMixMinus * self)
{
  GstStructure *s;

  g_mutex_lock (&self->lock);
  s = gst_structure_new ("mixminus-stats",
      "ticks", G_TYPE_UINT64, self->stat_ticks,
      "late-ticks", G_TYPE_UINT64, self->stat_late_ticks,
      "underruns", G_TYPE_UINT64, self->stat_underruns,
      "overflow-samples", G_TYPE_UINT64, self->stat_overflow,
      "trimmed-samples", G_TYPE_UINT64, self->stat_trimmed,
      "catch-ups", G_TYPE_UINT64, self->stat_catch_ups,
      "realigned-samples", G_TYPE_UINT64, self->stat_realigned,
      "holds", G_TYPE_UINT64, self->stat_holds,
      "inputs", G_TYPE_UINT, self->inputs->len, NULL);
  g_mutex_unlock (&self->lock);
  return s;
}

static void
gst_mix_minus_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMixMinus *self = GST_MIX_MINUS (object);

  g_mutex_lock (&self->lock);
  switch (prop_id) {
    case PROP_LIVE:
      self->live = g_value_get_boolean (value);
      break;
    case PROP_FRAME_DURATION:
      self->frame_duration = g_value_get_uint64 (value);
      break;
    case PROP_MAX_WAIT:
      self->max_wait = g_value_get_uint64 (value);
      break;
    case PROP_IDLE_TIMEOUT:
      self->idle_timeout = g_value_get_uint64 (value);
      break;
    case PROP_LEVEL_INTERVAL:
      self->level_interval = g_value_get_uint64 (value);
      break;
    case PROP_EOS_AFTER_INPUTS:
      self->eos_after_inputs = g_value_get_boolean (value);
      g_cond_broadcast (&self->cond);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_mix_minus_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstMixMinus *self = GST_MIX_MINUS (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_mix_minus_stats (self));
    return;
  }
  g_mutex_lock (&self->lock);
  switch (prop_id) {
    case PROP_LIVE:
      g_value_set_boolean (value, self->live);
      break;
    case PROP_FRAME_DURATION:
      g_value_set_uint64 (value, self->frame_duration);
      break;
    case PROP_MAX_WAIT:
      g_value_set_uint64 (value, self->max_wait);
      break;
    case PROP_IDLE_TIMEOUT:
      g_value_set_uint64 (value, self->idle_timeout);
      break;
    case PROP_LEVEL_INTERVAL:
      g_value_set_uint64 (value, self->level_interval);
      break;
    case PROP_EOS_AFTER_INPUTS:
      g_value_set_boolean (value, self->eos_after_inputs);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_mix_minus_finalize (GObject * object)
{
  GstMixMinus *self = GST_MIX_MINUS (object);

  g_ptr_array_unref (self->inputs);
  g_free (self->sum);
  g_free (self->scratch);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (gst_mix_minus_parent_class)->finalize (object);
}

static void
gst_mix_minus_class_init (GstMixMinusClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags rw_ready = rw | GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_mix_minus_set_property;
  gobject_class->get_property = gst_mix_minus_get_property;
  gobject_class->finalize = gst_mix_minus_finalize;

  /**
   * GstMixMinus:live:
   *
   * %TRUE: keep time on the pipeline clock, never wait on idle inputs.
   * %FALSE: tick whenever every input has a frame (files, tests).
   */
  g_object_class_install_property (gobject_class, PROP_LIVE,
      g_param_spec_boolean ("live", "Live",
          "Tick on the clock and wait only for inputs that are sending "
          "(false: tick when every input has a frame)", DEFAULT_LIVE,
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_FRAME_DURATION,
      g_param_spec_uint64 ("frame-duration", "Frame duration",
          "Duration of one mixed frame (ns)", 2500000, 100 * GST_MSECOND,
          DEFAULT_FRAME_DURATION, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MAX_WAIT,
      g_param_spec_uint64 ("max-wait", "Maximum wait",
          "How long a due frame waits for awaited inputs; realigning an input "
          "to be mixed on arrival needs room in it (ns)", 0,
          GST_SECOND, DEFAULT_MAX_WAIT, rw));
  g_object_class_install_property (gobject_class, PROP_IDLE_TIMEOUT,
      g_param_spec_uint64 ("idle-timeout", "Idle timeout",
          "An input that sent nothing for this long is not waited for (ns)",
          0, 10 * GST_SECOND, DEFAULT_IDLE_TIMEOUT, rw));
  g_object_class_install_property (gobject_class, PROP_LEVEL_INTERVAL,
      g_param_spec_uint64 ("level-interval", "Level interval",
          "Post a mixminus-levels message this often while inputs send "
          "(ns, 0: never)", 0, 10 * GST_SECOND, DEFAULT_LEVEL_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_EOS_AFTER_INPUTS,
      g_param_spec_boolean ("eos-after-inputs", "EOS after inputs",
          "End the mix once every input has ended (false: keep mixing "
          "until EOS is sent to the element)", DEFAULT_EOS_AFTER_INPUTS, rw));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "ticks, late-ticks (went out at max-wait), underruns (an awaited "
          "input short of a frame), overflow-samples, trimmed-samples, "
          "catch-ups, realigned-samples, inputs", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class, &record_template);
  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &sink_template, GST_TYPE_MIX_MINUS_PAD);
  gst_element_class_add_static_pad_template (element_class, &minus_template);

  gst_element_class_set_static_metadata (element_class,
      "Mix-minus audio mixer", "Filter/Audio/Mixer",
      "Mixes all inputs into a program on src and, for every sink_N, "
      "outputs the program without that input on minus_N",
      "Roomcast developers");

  element_class->request_new_pad =
      GST_DEBUG_FUNCPTR (gst_mix_minus_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_mix_minus_release_pad);
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_mix_minus_change_state);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_mix_minus_send_event);

  gst_type_mark_as_plugin_api (GST_TYPE_MIX_MINUS_PAD, 0);
}

static void
gst_mix_minus_init (GstMixMinus * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->inputs = g_ptr_array_new_with_free_func (gst_object_unref);
  self->live = DEFAULT_LIVE;
  self->frame_duration = DEFAULT_FRAME_DURATION;
  self->max_wait = DEFAULT_MAX_WAIT;
  self->idle_timeout = DEFAULT_IDLE_TIMEOUT;
  self->level_interval = DEFAULT_LEVEL_INTERVAL;
  self->eos_after_inputs = DEFAULT_EOS_AFTER_INPUTS;
  self->program_gain = 1.0f;
  self->frames = frames_for (DEFAULT_FRAME_DURATION);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, gst_mix_minus_src_query);
  gst_pad_set_event_function (self->srcpad, gst_mix_minus_src_event);
  gst_pad_set_activatemode_function (self->srcpad,
      gst_mix_minus_src_activate_mode);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->recordpad = gst_pad_new_from_static_template (&record_template, "record");
  gst_pad_set_query_function (self->recordpad, gst_mix_minus_src_query);
  gst_pad_set_event_function (self->recordpad, gst_mix_minus_src_event);
  gst_element_add_pad (GST_ELEMENT (self), self->recordpad);
  self->record_gain = 1.0f;

  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}
