package org.locore.apps.rerank;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.locore.data.datavec.FeatureSet;
import org.locore.model.io.Safetensors;
import org.locore.model.locore.Fusion;
import org.locore.model.locore.LocoreConfig;
import org.locore.model.locore.LocoreModel;
import org.locore.model.locore.ScoreMode;
import org.locore.testing.Fixtures;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Sliding-window re-ranking against {@code sliding_tiny_a} (all four orders, every pass). */
class SlidingRerankerTest {
    static JsonNode expected;
    static LocoreModel model;
    static FeatureSet.Blocks query;
    static FeatureSet.Blocks gallery;
    static double[] sims;

    @BeforeAll
    static void load() throws Exception {
        expected = new ObjectMapper().readTree(Fixtures.path("locore/sliding_tiny_a.json").toFile());
        LocoreConfig config = LocoreConfig.read(Fixtures.path("locore/locore_tiny_a.json"));
        model = LocoreModel.load(Fixtures.path("locore/locore_tiny_a.weights.safetensors"), config);
        try (Safetensors st = Safetensors.open(Fixtures.path("locore/sliding_tiny_a.inputs.safetensors"))) {
            INDArray ql = st.get("query_local").toINDArray(DataType.FLOAT);
            INDArray qg = st.get("query_global").toINDArray(DataType.FLOAT);
            INDArray gl = st.get("gallery_local").toINDArray(DataType.FLOAT);
            INDArray gg = st.get("gallery_global").toINDArray(DataType.FLOAT);
            long d = ql.size(1);
            long n = gl.size(0);
            query = new FeatureSet.Blocks(ql, Nd4j.zeros(DataType.LONG, 1, d), Nd4j.zeros(DataType.LONG, 1, d), qg);
            gallery = new FeatureSet.Blocks(gl, Nd4j.zeros(DataType.LONG, n, d), Nd4j.zeros(DataType.LONG, n, d), gg);
            float[] s = st.get("global_sims").toFloatArray();
            sims = new double[s.length];
            for (int i = 0; i < s.length; i++) sims[i] = s[i];
        }
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    private static double[] doubles(JsonNode a) {
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asDouble();
        return out;
    }

    private static SlidingReranker reranker(WindowOrder order, int batch) {
        return new SlidingReranker(expected.get("window").asInt(), expected.get("stride").asInt(),
                expected.get("shortlist").asInt(), order,
                new Fusion(expected.get("alpha").asDouble(), expected.get("temp").asDouble()), batch);
    }

    @Test
    void windowStartsOfEveryOrder() {
        for (WindowOrder o : WindowOrder.values()) {
            JsonNode r = expected.get("results").get(o.label());
            assertArrayEquals(ints(r.get("window_starts")), o.starts(expected.get("shortlist").asInt(),
                    expected.get("window").asInt(), expected.get("stride").asInt()), o.label());
        }
        // the released recipe: window 100, stride 50, top 400 -> 7 passes per direction
        assertArrayEquals(new int[]{300, 250, 200, 150, 100, 50, 0}, WindowOrder.END_TO_START.starts(400, 100, 50));
        assertArrayEquals(new int[]{0, 50, 100, 150, 200, 250, 300}, WindowOrder.START_TO_END.starts(400, 100, 50));
        assertArrayEquals(new int[]{0}, WindowOrder.END_TO_START.starts(100, 100, 100));
        assertEquals(WindowOrder.END_TO_START_TO_END, WindowOrder.parse("end-to-start-to-end"));
    }

    @Test
    void everyPassAndFinalOrderOfAllFourOrders() {
        ModelScorer model = new ModelScorer(SlidingRerankerTest.model, ScoreMode.MAX_END);
        model.put(0, query, gallery);
        // the combined orders repeat the windows of the single ones: score each distinct window once
        java.util.Map<String, float[]> seen = new java.util.HashMap<>();
        SlidingReranker.Scorer scorer = ws -> {
            float[][] out = new float[ws.size()][];
            for (int i = 0; i < ws.size(); i++) {
                SlidingReranker.Window w = ws.get(i);
                out[i] = seen.computeIfAbsent(java.util.Arrays.toString(w.positions()), k -> model.score(List.of(w))[0]);
            }
            return out;
        };
        for (WindowOrder o : WindowOrder.values()) {
            int[] ranking = IntStream.range(0, sims.length).toArray();
            SlidingReranker.Result res = reranker(o, 1).rerank(new SlidingReranker.Query(0, ranking, sims), scorer);
            JsonNode r = expected.get("results").get(o.label());
            JsonNode passes = r.get("passes");
            assertEquals(passes.size(), res.passes().size(), o.label());
            for (int p = 0; p < passes.size(); p++) {
                JsonNode ep = passes.get(p);
                SlidingReranker.Pass ap = res.passes().get(p);
                String what = o.label() + " pass " + p;
                assertEquals(ep.get("start").asInt(), ap.start(), what);
                assertArrayEquals(ints(ep.get("window_members")), ap.members(), what + " members");
                double[] el = doubles(ep.get("max_end_logit"));
                double[] al = new double[ap.logits().length];
                for (int i = 0; i < al.length; i++) al[i] = ap.logits()[i];
                assertArrayEquals(el, al, 1e-4, what + " logits");
                assertArrayEquals(doubles(ep.get("fused")), ap.fused(), 1e-5, what + " fused");
            }
            assertArrayEquals(ints(r.get("final_order")), res.ranking(), o.label() + " final order");
            assertArrayEquals(ints(r.get("final_order")), res.order(), o.label() + " final positions");
            // similarities follow their images
            for (int i = 0; i < sims.length; i++) assertEquals(sims[res.ranking()[i]], res.similarities()[i]);
        }
    }

    @Test
    void batchingWindowsAcrossQueriesGivesTheSameResult() {
        // the fixture query with its shortlist and a copy with a permuted shortlist, batched together
        ModelScorer scorer = new ModelScorer(model, ScoreMode.MAX_END);
        List<SlidingReranker.Query> qs = new ArrayList<>();
        java.util.Random rnd = new java.util.Random(3);
        for (int q = 0; q < 2; q++) {
            scorer.put(q, query, gallery);
            int[] perm = IntStream.range(0, sims.length).toArray();
            if (q > 0) {
                for (int i = perm.length - 1; i > 0; i--) {
                    int j = rnd.nextInt(i + 1);
                    int t = perm[i];
                    perm[i] = perm[j];
                    perm[j] = t;
                }
            }
            // gallery ids = positions here (the blocks are indexed by position in the input ranking)
            double[] s = new double[perm.length];
            for (int i = 0; i < perm.length; i++) s[i] = sims[perm[i]];
            qs.add(new SlidingReranker.Query(q, IntStream.range(0, perm.length).map(i -> 100 + i).toArray(), s));
        }
        SlidingReranker sr = reranker(WindowOrder.END_TO_START, 2);
        List<SlidingReranker.Result> batched = sr.rerank(qs, scorer);
        long batchedForwards = scorer.forwards();
        // the unpermuted query gives the fixture's final order (ids offset by 100)
        int[] expectedOrder = ints(expected.get("results").get("end-to-start").get("final_order"));
        assertArrayEquals(IntStream.of(expectedOrder).map(i -> 100 + i).toArray(), batched.get(0).ranking());
        SlidingReranker single = reranker(WindowOrder.END_TO_START, 1);
        for (int q = 1; q < 2; q++) {
            SlidingReranker.Result one = single.rerank(qs.get(q), scorer);
            assertArrayEquals(one.ranking(), batched.get(q).ranking(), "query " + q);
            for (int p = 0; p < one.passes().size(); p++) {
                float[] a = one.passes().get(p).logits();
                float[] b = batched.get(q).passes().get(p).logits();
                for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-4, "query " + q + " pass " + p);
            }
        }
        // 6 non-empty passes, both queries' windows in one forward each
        assertEquals(6, batchedForwards);
    }
}
