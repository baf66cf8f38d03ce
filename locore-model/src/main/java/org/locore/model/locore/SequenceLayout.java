package org.locore.model.locore;

/**
 * Where every token of a LOCORE sequence sits: image blocks {@code [G, L1..LD, SEP]}, the query block first, then
 * K gallery blocks, then padding up to a multiple of the largest attention window; and the masks the encoder
 * is fed (attention: 1 = attend, 0 = padding; global: 1 = global attention, as HF's inputs).
 *
 * @param descriptors          D
 * @param gallerySize          K
 * @param windowMultiple       the padded length is a multiple of this (the largest attention window)
 * @param queryGlobalAttention whether the query block's tokens are global (every SEP always is)
 */
public record SequenceLayout(int descriptors, int gallerySize, int windowMultiple, boolean queryGlobalAttention) {

    /** Tokens per image block, D + 2. */
    public int blockSize() {
        return descriptors + 2;
    }

    /** Unpadded length (1 + K)(D + 2). */
    public int tokens() {
        return (1 + gallerySize) * blockSize();
    }

    /** Length padded to a multiple of the window. */
    public int paddedLength() {
        int t = tokens();
        return (t + windowMultiple - 1) / windowMultiple * windowMultiple;
    }

    /** Position of image {@code image}'s global token (image 0 = query, 1 + k = gallery image k). */
    public int globalPosition(int image) {
        return image * blockSize();
    }

    /** Position of local descriptor {@code i} of an image. */
    public int localPosition(int image, int i) {
        return image * blockSize() + 1 + i;
    }

    /** Position of an image's SEP token. */
    public int sepPosition(int image) {
        return image * blockSize() + descriptors + 1;
    }

    /** Upper bound on the number of effective global tokens, used as the global-slot count of the graph. */
    public int globalSlots() {
        return queryGlobalAttention ? blockSize() + gallerySize : 1 + gallerySize;
    }

    /**
     * The attention mask of one sequence: G and SEP on, locals on unless their HDF5 mask says padding, pad off.
     *
     * @param queryMask   {@code [D]}, 1 = padding descriptor
     * @param galleryMask {@code [K][D]}
     */
    public int[] attentionMask(long[] queryMask, long[][] galleryMask) {
        int[] m = new int[paddedLength()];
        for (int img = 0; img <= gallerySize; img++) {
            long[] mask = img == 0 ? queryMask : galleryMask[img - 1];
            m[globalPosition(img)] = 1;
            m[sepPosition(img)] = 1;
            for (int i = 0; i < descriptors; i++) {
                m[localPosition(img, i)] = mask[i] != 0 ? 0 : 1;
            }
        }
        return m;
    }

    /** The global-attention mask: every SEP, and every query-block token when query attention is global. */
    public int[] globalMask() {
        int[] m = new int[paddedLength()];
        for (int img = 0; img <= gallerySize; img++) {
            m[sepPosition(img)] = 1;
        }
        if (queryGlobalAttention) {
            for (int p = 0; p < blockSize(); p++) {
                m[p] = 1;
            }
        }
        return m;
    }

    /**
     * What the graph is fed for one batch.
     *
     * @param batch       B
     * @param features    {@code [B * n * E]}: global and local descriptors at their positions, 0 elsewhere
     * @param scaleOneHot {@code [B * n * S]}: one-hot scale index of every local token, 0 rows elsewhere
     * @param sep         {@code [B * n]}: 1 at SEP tokens
     * @param pad         {@code [B * n]}: 1 at padding tokens
     * @param attention   {@code [B][n]} attention mask
     * @param global      {@code [B][n]} global-attention mask
     * @param labels      {@code [B * n * 2]}: one-hot token labels divided by the number of labelled tokens
     *                    (gallery tokens), or null without a positive mask
     */
    public record Encoded(int batch, float[] features, float[] scaleOneHot, float[] sep, float[] pad,
                          int[][] attention, int[][] global, float[] labels) {
    }

    /**
     * Places a batch of inputs.
     *
     * @param in        inputs with D and K matching this layout
     * @param numScales rows of the scale embedding
     */
    public Encoded encode(LocoreInputs in, int numScales) {
        if (in.descriptors() != descriptors || in.gallerySize() != gallerySize) {
            throw new IllegalArgumentException("inputs have D=" + in.descriptors() + ", K=" + in.gallerySize()
                    + " but the layout has D=" + descriptors + ", K=" + gallerySize);
        }
        int b = in.batch();
        int n = paddedLength();
        int e = in.width();
        float[] features = new float[b * n * e];
        float[] scales = new float[b * n * numScales];
        float[] sep = new float[b * n];
        float[] pad = new float[b * n];
        int[][] att = new int[b][];
        int[][] glob = new int[b][];
        float[] labels = in.positiveMask() == null ? null : new float[b * n * 2];
        float[] qg = floats(in.queryGlobal());
        float[] ql = floats(in.queryLocal());
        float[] gg = floats(in.galleryGlobal());
        float[] gl = floats(in.galleryLocal());
        long[] qs = longs(in.queryScales());
        long[] gs = longs(in.galleryScales());
        long[] qm = longs(in.queryMask());
        long[] gm = longs(in.galleryMask());
        long[] pos = in.positiveMask() == null ? null
                : longs(in.positiveMask());
        int labelled = b * gallerySize * blockSize();
        for (int r = 0; r < b; r++) {
            int base = r * n;
            long[] qMask = new long[descriptors];
            long[][] gMask = new long[gallerySize][descriptors];
            for (int img = 0; img <= gallerySize; img++) {
                System.arraycopy(img == 0 ? qg : gg, img == 0 ? r * e : (r * gallerySize + img - 1) * e,
                        features, (base + globalPosition(img)) * e, e);
                for (int i = 0; i < descriptors; i++) {
                    int src = img == 0 ? (r * descriptors + i) : ((r * gallerySize + img - 1) * descriptors + i);
                    System.arraycopy(img == 0 ? ql : gl, src * e, features, (base + localPosition(img, i)) * e, e);
                    long s = img == 0 ? qs[src] : gs[src];
                    if (s < 0 || s >= numScales) {
                        throw new IllegalArgumentException("scale index " + s + " outside 0.." + (numScales - 1));
                    }
                    scales[(base + localPosition(img, i)) * numScales + (int) s] = 1;
                    if (img == 0) qMask[i] = qm[src];
                    else gMask[img - 1][i] = gm[src];
                }
                sep[base + sepPosition(img)] = 1;
                if (labels != null && img > 0) {
                    int label = pos[r * gallerySize + img - 1] != 0 ? 1 : 0;
                    for (int p = globalPosition(img); p <= sepPosition(img); p++) {
                        labels[(base + p) * 2 + label] = 1.0f / labelled;
                    }
                }
            }
            for (int p = tokens(); p < n; p++) {
                pad[base + p] = 1;
            }
            att[r] = attentionMask(qMask, gMask);
            glob[r] = globalMask();
        }
        return new Encoded(b, features, scales, sep, pad, att, glob, labels);
    }

    private static float[] floats(org.nd4j.linalg.api.ndarray.INDArray a) {
        return a.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup('c').data().asFloat();
    }

    private static long[] longs(org.nd4j.linalg.api.ndarray.INDArray a) {
        return a.castTo(org.nd4j.linalg.api.buffer.DataType.LONG).dup('c').data().asLong();
    }
}
