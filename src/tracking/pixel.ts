/** The 43-byte 1x1 transparent GIF answered by the open pixel (and by the benchmark's baseline). */
export const PIXEL_GIF: Buffer = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
