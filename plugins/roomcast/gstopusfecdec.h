/* opusfecdec: Opus decoder that uses in-band FEC only on loss (see gstopusfecdec.c). */
#ifndef __GST_OPUS_FEC_DEC_H__
#define __GST_OPUS_FEC_DEC_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_OPUS_FEC_DEC (gst_opus_fec_dec_get_type ())
G_DECLARE_FINAL_TYPE (GstOpusFecDec, gst_opus_fec_dec, GST, OPUS_FEC_DEC,
    GstElement)

GST_ELEMENT_REGISTER_DECLARE (opusfecdec);

G_END_DECLS

#endif /* __GST_OPUS_FEC_DEC_H__ */
