/**
 * The LOCORE re-ranker: {@link org.locore.model.locore.LocoreConfig}, {@link org.locore.model.locore.SequenceLayout}
 * (the {@code [G, L1..LD, SEP]} blocks and masks), {@link org.locore.model.locore.LocoreInputs} (a batch),
 * {@link org.locore.model.locore.LocoreModel} (graph, strict checkpoint I/O, forward, loss and gradients),
 * {@link org.locore.model.locore.ForwardPath} (eager inference by default, the graph selectable),
 * {@link org.locore.model.locore.ScoreMode} and {@link org.locore.model.locore.Fusion}.
 */
package org.locore.model.locore;
