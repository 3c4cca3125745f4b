/**
 * SECTION:element-mixminus
 * @title: mixminus
 *
 * An O(N) mix-minus mixer for conferencing. All unmuted inputs are summed
 * once; the always `src` pad carries that sum (the program) and, for every
 * requested `sink_N`, a sometimes pad `minus_N` carries the program minus
 * `sink_N`'s own contribution, i.e. what participant N should hear.
 *
 * Every output goes through a soft limiter: linear below 0.5 (-6 dBFS), a
 * tanh knee above, so |sample| stays below -1 dBFS no matter how many inputs are loud.
 *
 * Input and output format is fixed to mono F32LE at 48 kHz; put
 * audioconvert ! audioresample upstream. `minus_N` is created inside the
 * request for `sink_N` (so gst-launch can link it right away) and removed,
 * after an EOS, when `sink_N` is released.
 *
 * Like tee, the element pushes all outputs from its one streaming thread,
 * so put a queue on each minus_N branch (live or not): otherwise the first
 * sink to preroll blocks that thread and the others never get data. When
 * inputs come and go (e.g. webrtcbin branches) in a pipeline that may
 * start without any live input, set force-live=true so missing inputs
 * time out and simply contribute silence.
 *
 * Pad properties (on each sink_N, also settable as `sink_N::volume=0.5` on
 * a launch line, through #GstChildProxy):
 * - mute: boolean, default false. The input reaches no output at all.
 * - volume: double 0..10, default 1.0. Linear gain before mixing.
 * - skip-silent: boolean, default false. While this input is silent, push
 *   nothing on minus_N (a GAP event marks the switch): a silent speaker hears
 *   the program, which the application can encode once for all of them.
 * - silent: boolean, read-only. Whether the input counts as silent now.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -e mixminus name=m sink_1::volume=0.5 \
 *   audiotestsrc is-live=true freq=440 ! audio/x-raw,format=F32LE,rate=48000,channels=1 ! m.sink_0 \
 *   audiotestsrc is-live=true freq=660 ! audio/x-raw,format=F32LE,rate=48000,channels=1 ! m.sink_1 \
 *   m.src ! audioconvert ! autoaudiosink \
 *   m.minus_0 ! queue ! fakesink  m.minus_1 ! queue ! fakesink
 * ]|
 * Plays 440 Hz + 660 Hz (at half volume); minus_0 carries only the 660 Hz
 * tone, minus_1 only the 440 Hz tone.
 */

#include "gstmixminus.h"

#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_mix_minus_debug);
#define GST_CAT_DEFAULT gst_mix_minus_debug

#define MIX_MINUS_CAPS \
  "audio/x-raw, format=(string)F32LE, rate=(int)48000, channels=(int)1, " \
  "layout=(string)interleaved"

/* Limiter, per output. A gain that falls at once (over 2 ms) to keep each
 * buffer's peak at the threshold (-3 dBFS) and recovers with a 150 ms release,
 * so loud voices keep their shape instead of being squared off (the encoders
 * after us overshoot on squared waves). A tanh soft clipper from -2.5 dBFS to
 * a -1 dBFS ceiling catches what the block gain cannot: a peak in the first
 * samples of a buffer. */
#define LIMIT_THRESHOLD 0.70794578f /* -3 dBFS */
#define LIMIT_KNEE 0.74989421f      /* -2.5 dBFS */
#define LIMIT_CEILING 0.89125094f   /* -1 dBFS */
#define LIMIT_ATTACK_FRAMES 96      /* 2 ms at 48 kHz */
#define LIMIT_RELEASE_SECONDS 0.15

/* An input is silent after this many output buffers (20 ms each with a
 * 960-sample bed) below SILENCE_LEVEL (-60 dBFS). */
#define SILENCE_LEVEL 0.001f
#define SILENT_AFTER_TICKS 10

#define DEFAULT_PAD_MUTE FALSE
#define DEFAULT_PAD_VOLUME 1.0
#define MAX_PAD_VOLUME 10.0

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (MIX_MINUS_CAPS));

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink_%u",
    GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS (MIX_MINUS_CAPS));

static GstStaticPadTemplate minus_template =
GST_STATIC_PAD_TEMPLATE ("minus_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS (MIX_MINUS_CAPS));

/* ------------------------------------------------------------------------ */
/* GstMixMinusPad                                                           */
/* ------------------------------------------------------------------------ */

struct _GstMixMinusPad
{
  GstAudioAggregatorPad parent;

  /* Properties, protected by the pad's object lock. */
  gboolean mute;
  gdouble volume;
  gboolean skip_silent;

  /* Written by the streaming thread, read atomically by "silent". */
  gint silent;

  /* This input's minus_N pad, protected by the element's object lock. */
  GstPad *minus_pad;

  /* Streaming thread only: the limiter gain of this pad's minus output, the
   * run of ticks this input has been silent, and whether minus_N was told
   * (by a GAP event) that it carries nothing while silent. */
  gfloat minus_gain;
  guint silent_ticks;
  gboolean gap_sent;

  /* Streaming thread only. scratch holds this pad's (volume-scaled)
   * contribution to the output buffer of generation scratch_gen; any other
   * generation means "contributed nothing". */
  gfloat *scratch;
  gsize scratch_frames;
  guint64 scratch_gen;
  GstFlowReturn minus_flow;
};

enum
{
  PROP_PAD_0,
  PROP_PAD_MUTE,
  PROP_PAD_VOLUME,
  PROP_PAD_SKIP_SILENT,
  PROP_PAD_SILENT,
};

G_DEFINE_TYPE (GstMixMinusPad, gst_mix_minus_pad,
    GST_TYPE_AUDIO_AGGREGATOR_PAD);

static void
gst_mix_minus_pad_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMixMinusPad *pad = GST_MIX_MINUS_PAD (object);

  switch (prop_id) {
    case PROP_PAD_MUTE:
      GST_OBJECT_LOCK (pad);
      pad->mute = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (pad);
      break;
    case PROP_PAD_VOLUME:
      GST_OBJECT_LOCK (pad);
      pad->volume = g_value_get_double (value);
      GST_OBJECT_UNLOCK (pad);
      break;
    case PROP_PAD_SKIP_SILENT:
      GST_OBJECT_LOCK (pad);
      pad->skip_silent = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (pad);
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
      GST_OBJECT_LOCK (pad);
      g_value_set_boolean (value, pad->mute);
      GST_OBJECT_UNLOCK (pad);
      break;
    case PROP_PAD_VOLUME:
      GST_OBJECT_LOCK (pad);
      g_value_set_double (value, pad->volume);
      GST_OBJECT_UNLOCK (pad);
      break;
    case PROP_PAD_SKIP_SILENT:
      GST_OBJECT_LOCK (pad);
      g_value_set_boolean (value, pad->skip_silent);
      GST_OBJECT_UNLOCK (pad);
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

  g_free (pad->scratch);
  /* Normally already cleared by release_pad(). */
  gst_clear_object (&pad->minus_pad);

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
   * When %TRUE this input contributes to no output at all: neither the
   * program nor anyone's minus. Default: %FALSE.
   */
  g_object_class_install_property (gobject_class, PROP_PAD_MUTE,
      g_param_spec_boolean ("mute", "Mute",
          "Drop this input from the program and from every minus output",
          DEFAULT_PAD_MUTE,
          G_PARAM_READWRITE | GST_PARAM_CONTROLLABLE | G_PARAM_STATIC_STRINGS));

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
          G_PARAM_READWRITE | GST_PARAM_CONTROLLABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMixMinusPad:skip-silent:
   *
   * When %TRUE, minus_N carries no buffers while this input is silent (muted,
   * no data, or below -60 dBFS for 200 ms): what a silent speaker should hear
   * is then exactly the program, which can be encoded once for all of them.
   * A GAP event on minus_N marks each switch to silence; buffers resume with
   * the first loud tick. Default: %FALSE.
   */
  g_object_class_install_property (gobject_class, PROP_PAD_SKIP_SILENT,
      g_param_spec_boolean ("skip-silent", "Skip when silent",
          "Push nothing on minus_N while this input is silent (a GAP marks the switch)",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMixMinusPad:silent:
   *
   * Read-only: whether this input is currently counted as silent.
   */
  g_object_class_install_property (gobject_class, PROP_PAD_SILENT,
      g_param_spec_boolean ("silent", "Silent",
          "Whether this input is currently silent", FALSE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
gst_mix_minus_pad_init (GstMixMinusPad * pad)
{
  pad->mute = DEFAULT_PAD_MUTE;
  pad->volume = DEFAULT_PAD_VOLUME;
  pad->minus_flow = GST_FLOW_OK;
  pad->minus_gain = 1.0f;
}

/* Returns FALSE when muted; otherwise stores the current gain. */
static gboolean
gst_mix_minus_pad_get_gain (GstMixMinusPad * pad, gfloat * gain)
{
  gboolean mute;

  GST_OBJECT_LOCK (pad);
  mute = pad->mute;
  *gain = (gfloat) pad->volume;
  GST_OBJECT_UNLOCK (pad);

  return !mute;
}

/* ------------------------------------------------------------------------ */
/* GstMixMinus                                                              */
/* ------------------------------------------------------------------------ */

struct _GstMixMinus
{
  GstAudioAggregator parent;

  /* Streaming thread only: bumped for every output buffer so pad scratch
   * areas can be zeroed lazily (see gst_mix_minus_pad_scratch()). */
  guint64 generation;
  /* Streaming thread only: the program limiter's gain. */
  gfloat program_gain;
};

/* A minus pad to push to, with refs taken under the object lock. */
typedef struct
{
  GstMixMinusPad *pad;
  GstPad *minus;
} MinusTarget;

static void gst_mix_minus_child_proxy_init (gpointer g_iface,
    gpointer iface_data);

G_DEFINE_TYPE_WITH_CODE (GstMixMinus, gst_mix_minus, GST_TYPE_AUDIO_AGGREGATOR,
    G_IMPLEMENT_INTERFACE (GST_TYPE_CHILD_PROXY,
        gst_mix_minus_child_proxy_init);
    GST_DEBUG_CATEGORY_INIT (gst_mix_minus_debug, "mixminus", 0,
        "Mix-minus audio mixer"));

GST_ELEMENT_REGISTER_DEFINE (mixminus, "mixminus", GST_RANK_NONE,
    GST_TYPE_MIX_MINUS);

static inline gfloat
soft_limit (gfloat x)
{
  gfloat ax = fabsf (x);
  gfloat y;

  if (ax <= LIMIT_KNEE)
    return x;
  if (isnan (x))
    return 0.0f;

  y = LIMIT_KNEE + (LIMIT_CEILING - LIMIT_KNEE) *
      tanhf ((ax - LIMIT_KNEE) / (LIMIT_CEILING - LIMIT_KNEE));
  return copysignf (MIN (y, LIMIT_CEILING), x);
}

/* Limits one buffer in place; *gain carries the envelope across buffers. */
static void
limit_samples (gfloat * samples, gsize n, gfloat * gain)
{
  const gfloat release = 1.0f - expf (-1.0f / (LIMIT_RELEASE_SECONDS * 48000));
  gfloat peak = 0.0f, target, g = *gain;
  gsize i = 0;

  for (gsize k = 0; k < n; k++)
    peak = MAX (peak, fabsf (samples[k]));
  target = peak > LIMIT_THRESHOLD ? LIMIT_THRESHOLD / peak : 1.0f;

  if (target < g) {
    gsize ramp = MIN (n, LIMIT_ATTACK_FRAMES);
    gfloat from = g;
    for (; i < ramp; i++) {
      g = from + (target - from) * (gfloat) (i + 1) / (gfloat) ramp;
      samples[i] = soft_limit (samples[i] * g);
    }
  }
  for (; i < n; i++) {
    if (g < target)
      g += (target - g) * release;
    else
      g = MIN (g, target);
    samples[i] = soft_limit (samples[i] * g);
  }
  *gain = g;
}

/* The pad's scratch area for the current output buffer, zeroed on first use
 * in each generation. Lazy zeroing also covers pads requested while an
 * output buffer is half mixed. */
static gfloat *
gst_mix_minus_pad_scratch (GstMixMinus * self, GstMixMinusPad * pad,
    gsize frames)
{
  if (pad->scratch_gen == self->generation)
    return pad->scratch;

  if (pad->scratch_frames < frames) {
    g_free (pad->scratch);
    pad->scratch = g_new (gfloat, frames);
    pad->scratch_frames = frames;
  }
  memset (pad->scratch, 0, frames * sizeof (gfloat));
  pad->scratch_gen = self->generation;

  return pad->scratch;
}

static void
minus_target_clear (gpointer data)
{
  MinusTarget *t = data;

  gst_object_unref (t->pad);
  gst_object_unref (t->minus);
}

/* Pushing must not happen under the object lock, so take refs first. */
static GArray *
gst_mix_minus_collect_targets (GstMixMinus * self)
{
  GArray *targets = g_array_new (FALSE, FALSE, sizeof (MinusTarget));

  g_array_set_clear_func (targets, minus_target_clear);

  GST_OBJECT_LOCK (self);
  for (GList * l = GST_ELEMENT (self)->sinkpads; l; l = l->next) {
    GstMixMinusPad *pad = l->data;
    MinusTarget t;

    if (!pad->minus_pad)
      continue;
    t.pad = gst_object_ref (pad);
    t.minus = gst_object_ref (pad->minus_pad);
    g_array_append_val (targets, t);
  }
  GST_OBJECT_UNLOCK (self);

  return targets;
}

/* --- minus pad plumbing ------------------------------------------------- */

static gboolean
gst_mix_minus_minus_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
    case GST_QUERY_ACCEPT_CAPS:
      /* Fixed format: the template answers. */
      return gst_pad_query_default (pad, parent, query);
    default:
      /* Same timeline and latency as the program, so let the aggregator's
       * src pad answer (its latency query covers all inputs). */
      return gst_pad_query (GST_AGGREGATOR_SRC_PAD (parent), query);
  }
}

static gboolean
gst_mix_minus_minus_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  gboolean is_seek = GST_EVENT_TYPE (event) == GST_EVENT_SEEK;

  (void) parent;
  /* Upstream events would steer the shared mix for everybody (seeks, QoS,
   * reconfigure); only the program pad gets to do that. */
  GST_LOG_OBJECT (pad, "dropping upstream %" GST_PTR_FORMAT, event);
  gst_event_unref (event);

  return !is_seek;
}

static gboolean
segment_is_current (GstPad * minus, const GstSegment * segment)
{
  GstEvent *event = gst_pad_get_sticky_event (minus, GST_EVENT_SEGMENT, 0);
  const GstSegment *sent;
  GstSegment cmp;
  gboolean equal;

  if (!event)
    return FALSE;

  /* position advances with every buffer; only a real change counts. */
  gst_event_parse_segment (event, &sent);
  cmp = *sent;
  cmp.position = segment->position;
  equal = gst_segment_is_equal (&cmp, segment);
  gst_event_unref (event);

  return equal;
}

/* Sticky events act as the per-pad state: they vanish when the pad is
 * deactivated (READY) or recreated, and are then simply sent again. */
static void
gst_mix_minus_ensure_headers (GstPad * minus, GstCaps * caps,
    const GstSegment * segment)
{
  GstEvent *event;
  GstCaps *current;

  event = gst_pad_get_sticky_event (minus, GST_EVENT_STREAM_START, 0);
  if (event) {
    gst_event_unref (event);
  } else {
    /* gst_pad_create_stream_id() refuses elements with several sink pads;
     * like GstAggregator, use a random id (unique per stream). */
    gchar *id = g_strdup_printf ("mixminus-%08x/%s", g_random_int (),
        GST_OBJECT_NAME (minus));

    gst_pad_push_event (minus, gst_event_new_stream_start (id));
    g_free (id);
  }

  current = gst_pad_get_current_caps (minus);
  if (!current || !gst_caps_is_equal (current, caps))
    gst_pad_push_event (minus, gst_event_new_caps (caps));
  gst_clear_caps (&current);

  if (!segment_is_current (minus, segment))
    gst_pad_push_event (minus, gst_event_new_segment (segment));
}

/* EOS only makes sense (and avoids sticky-order warnings) once started. */
static void
push_eos_if_started (GstPad * minus)
{
  GstEvent *start = gst_pad_get_sticky_event (minus, GST_EVENT_STREAM_START, 0);

  if (!start)
    return;
  gst_event_unref (start);
  gst_pad_push_event (minus, gst_event_new_eos ());
}

static void
gst_mix_minus_add_minus_pad (GstMixMinus * self, GstMixMinusPad * sinkpad)
{
  const gchar *sink_name = GST_OBJECT_NAME (sinkpad);
  const gchar *serial = strrchr (sink_name, '_');
  gchar *name = g_strdup_printf ("minus_%s", serial ? serial + 1 : sink_name);
  GstPad *minus = gst_pad_new_from_static_template (&minus_template, name);

  g_free (name);
  gst_pad_set_query_function (minus, gst_mix_minus_minus_query);
  gst_pad_set_event_function (minus, gst_mix_minus_minus_event);
  gst_pad_use_fixed_caps (minus);

  GST_OBJECT_LOCK (self);
  sinkpad->minus_pad = gst_object_ref (minus);
  GST_OBJECT_UNLOCK (self);

  /* Activates the pad if we are already running, emits pad-added. */
  gst_element_add_pad (GST_ELEMENT (self), minus);
  GST_DEBUG_OBJECT (self, "added %s:%s", GST_DEBUG_PAD_NAME (minus));
}

static void
gst_mix_minus_remove_minus_pad (GstMixMinus * self, GstPad * minus)
{
  /* Let whatever serves this participant drain and finish cleanly. */
  push_eos_if_started (minus);
  gst_pad_set_active (minus, FALSE);

  /* Element dispose may already have removed it. */
  if (gst_object_has_as_parent (GST_OBJECT (minus), GST_OBJECT (self)))
    gst_element_remove_pad (GST_ELEMENT (self), minus);
  GST_DEBUG_OBJECT (self, "removed %s", GST_OBJECT_NAME (minus));
}

/* --- GstElement --------------------------------------------------------- */

static GstPad *
gst_mix_minus_request_new_pad (GstElement * element, GstPadTemplate * templ,
    const gchar * req_name, const GstCaps * caps)
{
  GstMixMinus *self = GST_MIX_MINUS (element);
  GstPad *sinkpad;

  sinkpad = GST_ELEMENT_CLASS (gst_mix_minus_parent_class)->request_new_pad
      (element, templ, req_name, caps);
  if (!sinkpad)
    return NULL;

  /* Created before returning so gst-launch and apps can link minus_N as
   * soon as sink_N exists. */
  gst_mix_minus_add_minus_pad (self, GST_MIX_MINUS_PAD (sinkpad));
  gst_child_proxy_child_added (GST_CHILD_PROXY (self), G_OBJECT (sinkpad),
      GST_OBJECT_NAME (sinkpad));

  return sinkpad;
}

static void
gst_mix_minus_release_pad (GstElement * element, GstPad * pad)
{
  GstMixMinus *self = GST_MIX_MINUS (element);
  GstMixMinusPad *mpad = GST_MIX_MINUS_PAD (pad);
  GstPad *minus;

  GST_OBJECT_LOCK (self);
  minus = g_steal_pointer (&mpad->minus_pad);
  GST_OBJECT_UNLOCK (self);

  if (minus) {
    gst_mix_minus_remove_minus_pad (self, minus);
    gst_object_unref (minus);
  }

  gst_child_proxy_child_removed (GST_CHILD_PROXY (self), G_OBJECT (pad),
      GST_OBJECT_NAME (pad));
  GST_ELEMENT_CLASS (gst_mix_minus_parent_class)->release_pad (element, pad);
}

/* --- GstAudioAggregator ------------------------------------------------- */

static GstBuffer *
gst_mix_minus_create_output_buffer (GstAudioAggregator * aagg, guint frames)
{
  GstMixMinus *self = GST_MIX_MINUS (aagg);

  /* New generation: every pad scratch is now stale, i.e. silent. */
  self->generation++;

  return GST_AUDIO_AGGREGATOR_CLASS (gst_mix_minus_parent_class)
      ->create_output_buffer (aagg, frames);
}

static gboolean
gst_mix_minus_aggregate_one_buffer (GstAudioAggregator * aagg,
    GstAudioAggregatorPad * aapad, GstBuffer * inbuf, guint in_offset,
    GstBuffer * outbuf, guint out_offset, guint num_frames)
{
  GstMixMinus *self = GST_MIX_MINUS (aagg);
  GstMixMinusPad *pad = GST_MIX_MINUS_PAD (aapad);
  GstMapInfo inmap, outmap;
  const gfloat *in;
  gfloat *out, *own;
  gfloat gain;

  /* A muted input must not reach the sum, so it is absent from every
   * minus too; its scratch stays stale (= zero). */
  if (!gst_mix_minus_pad_get_gain (pad, &gain))
    return FALSE;

  gst_buffer_map (inbuf, &inmap, GST_MAP_READ);
  gst_buffer_map (outbuf, &outmap, GST_MAP_READWRITE);

  in = (const gfloat *) inmap.data + in_offset;
  out = (gfloat *) outmap.data + out_offset;
  own = gst_mix_minus_pad_scratch (self, pad,
      outmap.size / sizeof (gfloat)) + out_offset;

  for (guint i = 0; i < num_frames; i++) {
    gfloat v = in[i] * gain;

    out[i] += v;
    own[i] += v;
  }

  gst_buffer_unmap (outbuf, &outmap);
  gst_buffer_unmap (inbuf, &inmap);

  return TRUE;
}

/* --- GstAggregator ------------------------------------------------------ */

/* minus = limit (sum - own), stamped like the program buffer. */
static GstBuffer *
gst_mix_minus_make_minus_buffer (GstMixMinus * self, GstMixMinusPad * pad,
    GstBuffer * program, const gfloat * sum, gsize frames)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, frames * sizeof (gfloat),
      NULL);
  const gfloat *own = NULL;
  GstMapInfo map;
  gfloat *out;

  gst_buffer_copy_into (buf, program,
      GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS, 0, -1);

  if (pad->scratch_gen == self->generation && pad->scratch_frames >= frames)
    own = pad->scratch;

  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  out = (gfloat *) map.data;
  for (gsize i = 0; i < frames; i++)
    out[i] = own ? sum[i] - own[i] : sum[i];
  limit_samples (out, frames, &pad->minus_gain);
  gst_buffer_unmap (buf, &map);

  return buf;
}

/* Updates the pad's silence run from this tick's contribution; returns
 * whether the input now counts as silent. */
static gboolean
gst_mix_minus_update_silence (GstMixMinus * self, GstMixMinusPad * pad,
    gsize frames)
{
  gboolean spoke = FALSE;

  if (pad->scratch_gen == self->generation && pad->scratch_frames >= frames) {
    for (gsize i = 0; i < frames && !spoke; i++)
      spoke = fabsf (pad->scratch[i]) > SILENCE_LEVEL;
  }
  pad->silent_ticks = spoke ? 0 : MIN (pad->silent_ticks + 1,
      SILENT_AFTER_TICKS);
  g_atomic_int_set (&pad->silent, pad->silent_ticks >= SILENT_AFTER_TICKS);
  return pad->silent_ticks >= SILENT_AFTER_TICKS;
}

/* Not-linked, flushing or EOS on one listener's branch must not stop the
 * program; real errors (not-negotiated, error) are reported. */
static GstFlowReturn
gst_mix_minus_track_flow (GstMixMinusPad * pad, GstPad * minus,
    GstFlowReturn ret)
{
  if (ret != pad->minus_flow)
    GST_DEBUG_OBJECT (minus, "flow now %s", gst_flow_get_name (ret));
  pad->minus_flow = ret;

  return ret < GST_FLOW_EOS ? ret : GST_FLOW_OK;
}

static void
gst_mix_minus_get_stream_info (GstMixMinus * self, GstCaps ** caps,
    GstSegment * segment)
{
  GstAggregator *agg = GST_AGGREGATOR (self);

  GST_OBJECT_LOCK (self);
  *caps = GST_AUDIO_AGGREGATOR (self)->current_caps ?
      gst_caps_ref (GST_AUDIO_AGGREGATOR (self)->current_caps) :
      gst_static_pad_template_get_caps (&src_template);
  gst_segment_copy_into (&GST_AGGREGATOR_PAD (agg->srcpad)->segment, segment);
  GST_OBJECT_UNLOCK (self);
}

/* One subtraction per sample and listener: O(N) for N inputs. */
static GstFlowReturn
gst_mix_minus_push_minus_buffers (GstMixMinus * self, GstBuffer * program)
{
  GArray *targets = gst_mix_minus_collect_targets (self);
  GstFlowReturn result = GST_FLOW_OK;
  GstSegment segment;
  GstCaps *caps;
  GstMapInfo map;
  gsize frames;

  gst_mix_minus_get_stream_info (self, &caps, &segment);
  gst_buffer_map (program, &map, GST_MAP_READ);
  frames = map.size / sizeof (gfloat);

  for (guint i = 0; i < targets->len; i++) {
    MinusTarget *t = &g_array_index (targets, MinusTarget, i);
    GstBuffer *buf;
    GstFlowReturn ret;

    gboolean silent = gst_mix_minus_update_silence (self, t->pad, frames);
    gboolean skip_silent;

    /* Nobody listening: skip the work; headers follow once linked. */
    if (!gst_pad_is_linked (t->minus))
      continue;

    GST_OBJECT_LOCK (t->pad);
    skip_silent = t->pad->skip_silent;
    GST_OBJECT_UNLOCK (t->pad);
    if (skip_silent && silent) {
      if (!t->pad->gap_sent) {
        gst_mix_minus_ensure_headers (t->minus, caps, &segment);
        gst_pad_push_event (t->minus,
            gst_event_new_gap (GST_BUFFER_PTS (program),
                GST_BUFFER_DURATION (program)));
        t->pad->gap_sent = TRUE;
      }
      continue;
    }
    t->pad->gap_sent = FALSE;

    buf = gst_mix_minus_make_minus_buffer (self, t->pad, program,
        (const gfloat *) map.data, frames);
    gst_mix_minus_ensure_headers (t->minus, caps, &segment);
    ret = gst_mix_minus_track_flow (t->pad, t->minus,
        gst_pad_push (t->minus, buf));
    if (ret < result)
      result = ret;
  }

  gst_buffer_unmap (program, &map);
  gst_caps_unref (caps);
  g_array_unref (targets);

  return result;
}

static GstFlowReturn
gst_mix_minus_finish_buffer (GstAggregator * agg, GstBuffer * program)
{
  GstMixMinus *self = GST_MIX_MINUS (agg);
  GstFlowReturn minus_ret, ret;
  GstMapInfo map;

  /* The minus outputs need the unlimited sum, so they go first. */
  minus_ret = gst_mix_minus_push_minus_buffers (self, program);

  program = gst_buffer_make_writable (program);
  gst_buffer_map (program, &map, GST_MAP_READWRITE);
  limit_samples ((gfloat *) map.data, map.size / sizeof (gfloat),
      &self->program_gain);
  gst_buffer_unmap (program, &map);

  ret = GST_AGGREGATOR_CLASS (gst_mix_minus_parent_class)->finish_buffer
      (agg, program);

  return ret == GST_FLOW_OK ? minus_ret : ret;
}

static GstFlowReturn
gst_mix_minus_aggregate (GstAggregator * agg, gboolean timeout)
{
  GstFlowReturn ret = GST_AGGREGATOR_CLASS (gst_mix_minus_parent_class)
      ->aggregate (agg, timeout);

  /* GstAggregator sends EOS on src only; every listener needs one too. */
  if (ret == GST_FLOW_EOS || ret == GST_FLOW_ERROR) {
    GArray *targets = gst_mix_minus_collect_targets (GST_MIX_MINUS (agg));

    for (guint i = 0; i < targets->len; i++)
      push_eos_if_started (g_array_index (targets, MinusTarget, i).minus);
    g_array_unref (targets);
  }

  return ret;
}

/* --- GstChildProxy: sink_N::volume=... on launch lines ----------------- */

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

/* --- GObject ------------------------------------------------------------ */

static void
gst_mix_minus_class_init (GstMixMinusClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstAggregatorClass *agg_class = GST_AGGREGATOR_CLASS (klass);
  GstAudioAggregatorClass *aagg_class = GST_AUDIO_AGGREGATOR_CLASS (klass);

  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &src_template, GST_TYPE_AUDIO_AGGREGATOR_PAD);
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

  agg_class->aggregate = GST_DEBUG_FUNCPTR (gst_mix_minus_aggregate);
  agg_class->finish_buffer = GST_DEBUG_FUNCPTR (gst_mix_minus_finish_buffer);

  aagg_class->create_output_buffer =
      GST_DEBUG_FUNCPTR (gst_mix_minus_create_output_buffer);
  aagg_class->aggregate_one_buffer =
      GST_DEBUG_FUNCPTR (gst_mix_minus_aggregate_one_buffer);

  gst_type_mark_as_plugin_api (GST_TYPE_MIX_MINUS_PAD, 0);
}

static void
gst_mix_minus_init (GstMixMinus * self)
{
  /* Pads start at scratch_gen 0, i.e. "nothing mixed yet". */
  self->generation = 1;
  self->program_gain = 1.0f;
}
