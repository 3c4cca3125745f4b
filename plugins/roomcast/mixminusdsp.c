/* Sample-level helpers of mixminus: see mixminusdsp.h. */
#include "mixminusdsp.h"

#include <math.h>
#include <string.h>

#define LIMIT_ATTACK_SECONDS 0.002
#define LIMIT_RELEASE_SECONDS 0.15

void
mix_fifo_init (MixFifo * fifo, guint capacity)
{
  memset (fifo, 0, sizeof (*fifo));
  fifo->capacity = capacity;
}

void
mix_fifo_free (MixFifo * fifo)
{
  g_free (fifo->data);
  memset (fifo, 0, sizeof (*fifo));
}

void
mix_fifo_clear (MixFifo * fifo)
{
  fifo->head = 0;
  fifo->length = 0;
}

void
mix_fifo_reserve (MixFifo * fifo, guint capacity)
{
  gfloat *data;

  if (capacity <= fifo->capacity && (fifo->data || !fifo->length))
    return;
  capacity = MAX (capacity, fifo->capacity);
  data = g_new (gfloat, capacity);
  /* Unwrap the ring into the new storage. */
  if (fifo->data) {
    for (guint i = 0; i < fifo->length; i++)
      data[i] = fifo->data[(fifo->head + i) % fifo->capacity];
    g_free (fifo->data);
  }
  fifo->data = data;
  fifo->capacity = capacity;
  fifo->head = 0;
}

guint
mix_fifo_push (MixFifo * fifo, const void *samples, guint n, gboolean s16)
{
  guint dropped = 0, tail;

  if (!fifo->data)
    fifo->data = g_new (gfloat, fifo->capacity);
  /* More than fits at all: keep the newest. */
  if (n > fifo->capacity) {
    guint skip = n - fifo->capacity;
    dropped += skip;
    samples = (const guint8 *) samples + skip * (s16 ? 2 : 4);
    n = fifo->capacity;
  }
  if (fifo->length + n > fifo->capacity)
    dropped += mix_fifo_skip (fifo, fifo->length + n - fifo->capacity);

  tail = (fifo->head + fifo->length) % fifo->capacity;
  for (guint i = 0; i < n; i++) {
    gfloat v = s16 ? ((const gint16 *) samples)[i] * (1.0f / 32768.0f)
        : ((const gfloat *) samples)[i];
    fifo->data[tail] = v;
    if (++tail == fifo->capacity)
      tail = 0;
  }
  fifo->length += n;
  return dropped;
}

guint
mix_fifo_pop (MixFifo * fifo, gfloat * out, guint n, gfloat gain)
{
  n = MIN (n, fifo->length);
  for (guint i = 0; i < n; i++) {
    out[i] = fifo->data[fifo->head] * gain;
    if (++fifo->head == fifo->capacity)
      fifo->head = 0;
  }
  fifo->length -= n;
  return n;
}

guint
mix_fifo_skip (MixFifo * fifo, guint n)
{
  n = MIN (n, fifo->length);
  if (n)
    fifo->head = (fifo->head + n) % fifo->capacity;
  fifo->length -= n;
  return n;
}

gfloat
mix_fifo_peak (const MixFifo * fifo, guint n)
{
  gfloat peak = 0.0f;
  guint at = fifo->head;

  n = MIN (n, fifo->length);
  for (guint i = 0; i < n; i++) {
    peak = MAX (peak, fabsf (fifo->data[at]));
    if (++at == fifo->capacity)
      at = 0;
  }
  return peak;
}

static inline gfloat
soft_clip (gfloat x)
{
  gfloat ax = fabsf (x);
  gfloat y;

  if (ax <= MIX_LIMIT_KNEE)
    return x;
  if (isnan (x))
    return 0.0f;
  y = MIX_LIMIT_KNEE + (MIX_LIMIT_CEILING - MIX_LIMIT_KNEE) *
      tanhf ((ax - MIX_LIMIT_KNEE) / (MIX_LIMIT_CEILING - MIX_LIMIT_KNEE));
  return copysignf (MIN (y, MIX_LIMIT_CEILING), x);
}

void
mix_limit (gfloat * samples, gsize n, gfloat * gain, guint rate)
{
  const gfloat release =
      1.0f - expf (-1.0f / (gfloat) (LIMIT_RELEASE_SECONDS * rate));
  const gsize attack = (gsize) (LIMIT_ATTACK_SECONDS * rate);
  gfloat peak = 0.0f, target, g = *gain;
  gsize i = 0;

  for (gsize k = 0; k < n; k++)
    peak = MAX (peak, fabsf (samples[k]));
  target = peak > MIX_LIMIT_THRESHOLD ? MIX_LIMIT_THRESHOLD / peak : 1.0f;

  /* Fast path: nothing to limit and the gain is back at unity. */
  if (target >= 1.0f && g >= 1.0f && peak <= MIX_LIMIT_KNEE)
    return;

  if (target < g) {
    gsize ramp = MIN (n, attack);
    gfloat from = g;
    for (; i < ramp; i++) {
      g = from + (target - from) * (gfloat) (i + 1) / (gfloat) ramp;
      samples[i] = soft_clip (samples[i] * g);
    }
  }
  for (; i < n; i++) {
    if (g < target)
      g += (target - g) * release;
    else
      g = MIN (g, target);
    samples[i] = soft_clip (samples[i] * g);
  }
  *gain = g;
}

void
mix_to_s16 (const gfloat * in, gint16 * out, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    gfloat v = in[i] * 32767.0f;
    v = v > 32767.0f ? 32767.0f : (v < -32768.0f ? -32768.0f : v);
    out[i] = (gint16) lrintf (v);
  }
}
