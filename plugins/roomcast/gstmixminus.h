/* mixminus: O(N) mix-minus audio mixer (see gstmixminus.c for docs). */
#ifndef __GST_MIX_MINUS_H__
#define __GST_MIX_MINUS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_MIX_MINUS_PAD (gst_mix_minus_pad_get_type ())
G_DECLARE_FINAL_TYPE (GstMixMinusPad, gst_mix_minus_pad, GST, MIX_MINUS_PAD,
    GstPad)

#define GST_TYPE_MIX_MINUS (gst_mix_minus_get_type ())
G_DECLARE_FINAL_TYPE (GstMixMinus, gst_mix_minus, GST, MIX_MINUS, GstElement)

GST_ELEMENT_REGISTER_DECLARE (mixminus);

G_END_DECLS

#endif /* __GST_MIX_MINUS_H__ */
