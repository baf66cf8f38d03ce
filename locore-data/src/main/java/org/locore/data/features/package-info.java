/**
 * The feature files LOCORE works with.
 *
 * <ul>
 *   <li>{@link org.locore.data.features.LocalFeatures}: HDF5 local features, dataset {@code features},
 *       logical shape {@code [N, K, 5 + D]} with rows {@code [y, x, scale index, mask (1 = padding), weight,
 *       descriptor(D)]}; contiguous, chunked/compressed, compound ({@code {metadata: f4[K,5], descriptor:
 *       f2[K,D]}}) and virtual (stitched over part files) layouts; random access to one image's first rows,
 *       thread-safe, never loading the file. {@link org.locore.data.features.ImageFeatures} holds one image's
 *       rows split into columns.</li>
 *   <li>{@link org.locore.data.features.LocalFeaturesWriter}: writes such files (contiguous, streamed in
 *       bounded memory, or chunked with shuffle + gzip), atomically.</li>
 *   <li>{@link org.locore.data.features.GlobalDescriptors}: headerless little-endian float32 {@code [N, D]}
 *       files ({@code *_global.pt}), memory-mapped in several mappings so files larger than 2 GB work.</li>
 * </ul>
 *
 * <p>HDF5 is read with jhdf, except for what jhdf 0.13 cannot do: virtual datasets (refused) and array
 * members of compound types (misread) are decoded here from the raw object headers, datatype messages and
 * the global heap, following the HDF5 file format specification. Contiguous data is memory-mapped directly;
 * chunked data is read through jhdf one chunk at a time under a per-file lock. Every problem with a file's
 * content is reported as a {@link org.locore.model.io.FormatException} naming the file and the problem.
 */
package org.locore.data.features;
