/* The sample-level pieces of mixminus, without GStreamer objects: an input
 * FIFO (ring of float samples), the limiter and format conversion. */
#ifndef __MIX_MINUS_DSP_H__
#define __MIX_MINUS_DSP_H__

#include <glib.h>

G_BEGIN_DECLS

/* Limiter (per output). A gain that falls at once (over 2 ms) to keep each
 * buffer's peak at -3 dBFS and recovers with a 150 ms release, then a tanh
 * soft clipper from -2.5 dBFS to a -1 dBFS ceiling for what the block gain
 * cannot catch (a peak in the first samples of a buffer). */
#define MIX_LIMIT_THRESHOLD 0.70794578f /* -3 dBFS */
#define MIX_LIMIT_KNEE 0.74989421f      /* -2.5 dBFS */
#define MIX_LIMIT_CEILING 0.89125094f   /* -1 dBFS */

/* Samples of one input waiting to be mixed. Storage is allocated on first
 * use, so inputs that never send (muted, pre-warming) cost no memory. */
typedef struct
{
  gfloat *data;
  guint capacity;
  guint head;                   /* index of the oldest sample */
  guint length;
} MixFifo;

void mix_fifo_init (MixFifo * fifo, guint capacity);
void mix_fifo_free (MixFifo * fifo);
void mix_fifo_clear (MixFifo * fifo);
/* Grows the capacity (never shrinks); keeps the contents. */
void mix_fifo_reserve (MixFifo * fifo, guint capacity);
/* Appends n samples, S16 or F32; when full, the oldest samples are dropped
 * to make room. Returns how many were dropped. */
guint mix_fifo_push (MixFifo * fifo, const void *samples, guint n,
    gboolean s16);
/* Moves up to n samples, times gain, into out; returns how many. */
guint mix_fifo_pop (MixFifo * fifo, gfloat * out, guint n, gfloat gain);
/* Drops up to n of the oldest samples; returns how many. */
guint mix_fifo_skip (MixFifo * fifo, guint n);
/* The largest magnitude among the n oldest samples (0 when empty). */
gfloat mix_fifo_peak (const MixFifo * fifo, guint n);

/* Limits n samples in place; *gain carries the envelope across calls
 * (start at 1.0). */
void mix_limit (gfloat * samples, gsize n, gfloat * gain, guint rate);

void mix_to_s16 (const gfloat * in, gint16 * out, gsize n);

G_END_DECLS

#endif /* __MIX_MINUS_DSP_H__ */
