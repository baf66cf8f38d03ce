/**
 * Image decoding and resizing exactly as the AMES extraction does it (OpenCV 4.5.5 through JavaCPP):
 * {@link org.locore.data.image.ImagePreprocessor}.
 */
package org.locore.data.image;
