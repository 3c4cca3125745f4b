/**
 * SECTION:element-opusfecdec
 * @title: opusfecdec
 *
 * An Opus decoder for conferencing that uses in-band FEC without holding
 * every packet back.
 *
 * opusdec with `use-inband-fec=true` decodes each packet only when the next
 * one has arrived, in case that one carries the FEC copy of a lost packet:
 * 20 ms more delay on every packet, lost or not. A jitter buffer already
 * waits for a late packet before it declares it lost (a GAP event), and by
 * then the packet after it has usually arrived. So this element decodes
 * every packet the moment it arrives, remembers a GAP, and when the next
 * packet comes, first rebuilds the lost audio from that packet's FEC data
 * (libopus conceals the part FEC cannot cover, and a packet without FEC is
 * concealed entirely), then decodes the packet itself. When two GAPs come
 * without a packet between them, the first is concealed (PLC) right away.
 *
 * Losses longer than `max-conceal` are not concealed: the GAP goes
 * downstream as it is and only the last `max-conceal` before the next
 * packet are rebuilt. A lost span whose next packet comes much later (the
 * sender paused) is dropped: concealing it then would only add delay.
 * A packet libopus cannot parse is treated as lost.
 *
 * Output: mono F32LE at 48 kHz (stereo packets are downmixed by libopus).
 * The element adds no latency.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 udpsrc port=5004 \
 *   caps="application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=111" ! \
 *   rtpjitterbuffer latency=20 do-lost=true ! rtpopusdepay ! opusfecdec ! \
 *   audioconvert ! autoaudiosink
 * ]|
 * Plays Opus over RTP from port 5004, rebuilding lost packets from FEC.
 * |[
 * gst-launch-1.0 -e audiotestsrc num-buffers=50 samplesperbuffer=960 ! \
 *   opusenc inband-fec=true packet-loss-percentage=10 ! rtpopuspay ! \
 *   rtpopusdepay ! opusfecdec ! audioconvert ! fakesink
 * ]|
 * A self-contained check (run by the tests).
 */

#include "gstopusfecdec.h"

#include <opus.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_opus_fec_dec_debug);
#define GST_CAT_DEFAULT gst_opus_fec_dec_debug

#define RATE 48000
/* libopus' largest frame, and the most one FEC or PLC call may produce. */
#define MAX_FRAME_SAMPLES 5760
/* FEC and PLC work in multiples of 2.5 ms. */
#define GRANULE_SAMPLES (RATE / 400)
#define DEFAULT_MAX_CONCEAL_MS 120
/* A lost span is dropped when the next packet starts this long after it. */
#define STALE_LOSS (40 * GST_MSECOND)

enum
{
  PROP_0,
  PROP_MAX_CONCEAL,
  PROP_RECOVERED,
  PROP_CONCEALED,
};

struct _GstOpusFecDec
{
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  OpusDecoder *decoder;
  gboolean caps_sent;
  /* The lost span waiting for the next packet's FEC data: [loss_pts, loss_pts + loss_duration). */
  GstClockTime loss_pts, loss_duration;
  /* Where the last output ended, for packets without a timestamp. */
  GstClockTime next_pts;

  guint max_conceal_ms;
  guint64 recovered, concealed;   /* spans rebuilt with FEC / with PLC only */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-opus, channel-mapping-family=(int)0"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format=(string)F32LE, rate=(int)48000, "
        "channels=(int)1, layout=(string)interleaved"));

#define gst_opus_fec_dec_parent_class parent_class
G_DEFINE_TYPE (GstOpusFecDec, gst_opus_fec_dec, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (opusfecdec, "opusfecdec", GST_RANK_NONE,
    GST_TYPE_OPUS_FEC_DEC);

static GstClockTime
samples_to_time (gint samples)
{
  return gst_util_uint64_scale_int (samples, GST_SECOND, RATE);
}

static gint
time_to_granules (GstClockTime duration)
{
  /* Rounded to the nearest 2.5 ms, at least one. */
  guint64 granules = (duration + GST_MSECOND * 5 / 4) / (GST_MSECOND * 5 / 2);
  return (gint) MAX (granules, 1);
}

static void
clear_loss (GstOpusFecDec * self)
{
  self->loss_pts = GST_CLOCK_TIME_NONE;
  self->loss_duration = 0;
}

static void
reset_decoder (GstOpusFecDec * self)
{
  if (self->decoder)
    opus_decoder_ctl (self->decoder, OPUS_RESET_STATE);
  clear_loss (self);
  self->next_pts = GST_CLOCK_TIME_NONE;
}

static gboolean
send_caps (GstOpusFecDec * self)
{
  GstCaps *caps;
  gboolean ok;

  if (self->caps_sent)
    return TRUE;
  caps = gst_pad_get_pad_template_caps (self->srcpad);
  ok = gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  self->caps_sent = ok;
  return ok;
}

/* Decodes into a new buffer stamped `pts`: a packet (data, fec=0), the FEC
 * copy carried by the packet after a loss (data, fec=1), or concealment
 * (data NULL). `samples` is the duration wanted for FEC and PLC. */
static GstFlowReturn
decode_and_push (GstOpusFecDec * self, const guint8 * data, gsize size,
    gint samples, gboolean fec, GstClockTime pts)
{
  GstBuffer *out;
  GstMapInfo map;
  gint got;

  if (samples <= 0 || samples > MAX_FRAME_SAMPLES)
    return GST_FLOW_OK;
  out = gst_buffer_new_allocate (NULL, samples * sizeof (float), NULL);
  gst_buffer_map (out, &map, GST_MAP_WRITE);
  got = opus_decode_float (self->decoder, data, (opus_int32) size,
      (float *) map.data, samples, fec ? 1 : 0);
  gst_buffer_unmap (out, &map);
  if (got <= 0) {
    GST_WARNING_OBJECT (self, "libopus: %s", opus_strerror (got));
    gst_buffer_unref (out);
    return GST_FLOW_OK;
  }
  gst_buffer_set_size (out, got * sizeof (float));
  GST_BUFFER_PTS (out) = pts;
  GST_BUFFER_DURATION (out) = samples_to_time (got);
  if (GST_CLOCK_TIME_IS_VALID (pts))
    self->next_pts = pts + GST_BUFFER_DURATION (out);
  if (!send_caps (self)) {
    gst_buffer_unref (out);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  return gst_pad_push (self->srcpad, out);
}

/* The pending loss, concealed without help from a next packet. */
static GstFlowReturn
conceal_pending (GstOpusFecDec * self)
{
  GstClockTime pts = self->loss_pts, duration = self->loss_duration;

  clear_loss (self);
  if (!GST_CLOCK_TIME_IS_VALID (pts) || duration == 0)
    return GST_FLOW_OK;
  GST_OBJECT_LOCK (self);
  self->concealed++;
  GST_OBJECT_UNLOCK (self);
  return decode_and_push (self, NULL, 0,
      time_to_granules (duration) * GRANULE_SAMPLES, FALSE, pts);
}

/* A span of lost audio: kept (up to max-conceal, the rest passed on as a
 * GAP) until the next packet says whether FEC can rebuild it. */
static GstFlowReturn
note_loss (GstOpusFecDec * self, GstClockTime pts, GstClockTime duration)
{
  GstClockTime max_conceal;
  GstFlowReturn ret = GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  max_conceal = self->max_conceal_ms * GST_MSECOND;
  GST_OBJECT_UNLOCK (self);

  if (!GST_CLOCK_TIME_IS_VALID (duration) || duration == 0)
    duration = 20 * GST_MSECOND;
  if (!GST_CLOCK_TIME_IS_VALID (pts))
    pts = self->next_pts;
  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return GST_FLOW_OK;         /* nothing decoded yet: nothing to continue */

  if (GST_CLOCK_TIME_IS_VALID (self->loss_pts)
      && pts + GST_MSECOND >= self->loss_pts + self->loss_duration
      && pts <= self->loss_pts + self->loss_duration + GST_MSECOND) {
    self->loss_duration += duration;    /* one longer span */
  } else {
    /* A new span: the old one will never get a next packet. */
    ret = conceal_pending (self);
    self->loss_pts = pts;
    self->loss_duration = duration;
  }
  if (self->loss_duration > max_conceal) {
    GstClockTime skipped = self->loss_duration - max_conceal;
    gst_pad_push_event (self->srcpad, gst_event_new_gap (self->loss_pts,
            skipped));
    self->loss_pts += skipped;
    self->loss_duration = max_conceal;
  }
  return ret;
}

static GstFlowReturn
handle_packet (GstOpusFecDec * self, GstBuffer * buffer)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstMapInfo map;
  gint samples;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return GST_FLOW_ERROR;
  samples = map.size > 0 ? opus_packet_get_nb_samples (map.data,
      (opus_int32) map.size, RATE) : OPUS_INVALID_PACKET;
  if (samples <= 0 || samples > MAX_FRAME_SAMPLES) {
    GST_WARNING_OBJECT (self, "not an Opus packet (%" G_GSIZE_FORMAT
        " bytes): taken as lost", map.size);
    gst_buffer_unmap (buffer, &map);
    return note_loss (self, pts, GST_BUFFER_DURATION (buffer));
  }

  if (GST_CLOCK_TIME_IS_VALID (self->loss_pts)) {
    GstClockTime loss_end = self->loss_pts + self->loss_duration;
    if (GST_CLOCK_TIME_IS_VALID (pts) && pts > loss_end + STALE_LOSS) {
      GST_DEBUG_OBJECT (self, "loss at %" GST_TIME_FORMAT " is stale: dropped",
          GST_TIME_ARGS (self->loss_pts));
      clear_loss (self);
    } else {
      GstClockTime loss_pts = self->loss_pts;
      gint lost = time_to_granules (self->loss_duration) * GRANULE_SAMPLES;
      clear_loss (self);
      GST_OBJECT_LOCK (self);
      self->recovered++;
      GST_OBJECT_UNLOCK (self);
      ret = decode_and_push (self, map.data, map.size, lost, TRUE, loss_pts);
    }
  }
  if (ret == GST_FLOW_OK) {
    if (!GST_CLOCK_TIME_IS_VALID (pts))
      pts = self->next_pts;
    ret = decode_and_push (self, map.data, map.size, samples, FALSE, pts);
  }
  gst_buffer_unmap (buffer, &map);
  return ret;
}

static GstFlowReturn
gst_opus_fec_dec_chain (GstPad * pad G_GNUC_UNUSED, GstObject * parent,
    GstBuffer * buffer)
{
  GstOpusFecDec *self = GST_OPUS_FEC_DEC (parent);
  GstFlowReturn ret;

  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_GAP)
      || gst_buffer_get_size (buffer) == 0)
    ret = note_loss (self, GST_BUFFER_PTS (buffer),
        GST_BUFFER_DURATION (buffer));
  else
    ret = handle_packet (self, buffer);
  gst_buffer_unref (buffer);
  return ret;
}

static gboolean
gst_opus_fec_dec_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstOpusFecDec *self = GST_OPUS_FEC_DEC (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      /* Any Opus in, always the same format out. */
      gst_event_unref (event);
      return send_caps (self);
    case GST_EVENT_GAP:{
      GstClockTime pts, duration;
      gst_event_parse_gap (event, &pts, &duration);
      gst_event_unref (event);
      return note_loss (self, pts, duration) == GST_FLOW_OK;
    }
    case GST_EVENT_FLUSH_STOP:
      reset_decoder (self);
      break;
    case GST_EVENT_EOS:
    case GST_EVENT_SEGMENT:
      /* A lost span at the end or before a new segment gets no next packet. */
      clear_loss (self);
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
gst_opus_fec_dec_change_state (GstElement * element, GstStateChange transition)
{
  GstOpusFecDec *self = GST_OPUS_FEC_DEC (element);

  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    int error = OPUS_OK;
    self->decoder = opus_decoder_create (RATE, 1, &error);
    if (!self->decoder) {
      GST_ELEMENT_ERROR (self, LIBRARY, INIT, (NULL),
          ("opus_decoder_create: %s", opus_strerror (error)));
      return GST_STATE_CHANGE_FAILURE;
    }
  }
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    reset_decoder (self);
    self->caps_sent = FALSE;
  }

  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_READY_TO_NULL && self->decoder) {
    opus_decoder_destroy (self->decoder);
    self->decoder = NULL;
  }
  return ret;
}

static void
gst_opus_fec_dec_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  GstOpusFecDec *self = GST_OPUS_FEC_DEC (object);

  switch (id) {
    case PROP_MAX_CONCEAL:
      GST_OBJECT_LOCK (self);
      self->max_conceal_ms = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
gst_opus_fec_dec_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  GstOpusFecDec *self = GST_OPUS_FEC_DEC (object);

  GST_OBJECT_LOCK (self);
  switch (id) {
    case PROP_MAX_CONCEAL:
      g_value_set_uint (value, self->max_conceal_ms);
      break;
    case PROP_RECOVERED:
      g_value_set_uint64 (value, self->recovered);
      break;
    case PROP_CONCEALED:
      g_value_set_uint64 (value, self->concealed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_opus_fec_dec_class_init (GstOpusFecDecClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_opus_fec_dec_set_property;
  gobject_class->get_property = gst_opus_fec_dec_get_property;
  element_class->change_state = gst_opus_fec_dec_change_state;

  g_object_class_install_property (gobject_class, PROP_MAX_CONCEAL,
      g_param_spec_uint ("max-conceal", "Max conceal",
          "Longest loss rebuilt before the next packet, in ms (longer: a GAP)",
          20, MAX_FRAME_SAMPLES * 1000 / RATE, DEFAULT_MAX_CONCEAL_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_RECOVERED,
      g_param_spec_uint64 ("recovered", "Recovered",
          "Lost spans rebuilt from the next packet (FEC where it carried some)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_CONCEALED,
      g_param_spec_uint64 ("concealed", "Concealed",
          "Lost spans concealed without a next packet (PLC only)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Opus decoder with FEC on loss only", "Codec/Decoder/Audio",
      "Decodes Opus at once; rebuilds a lost packet from the next packet's "
      "in-band FEC when it arrives", "roomcast");
  GST_DEBUG_CATEGORY_INIT (gst_opus_fec_dec_debug, "opusfecdec", 0,
      "Opus decoder with FEC on loss only");
}

static void
gst_opus_fec_dec_init (GstOpusFecDec * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, gst_opus_fec_dec_chain);
  gst_pad_set_event_function (self->sinkpad, gst_opus_fec_dec_sink_event);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->max_conceal_ms = DEFAULT_MAX_CONCEAL_MS;
  clear_loss (self);
  self->next_pts = GST_CLOCK_TIME_NONE;
}
