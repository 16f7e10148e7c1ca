/* The bounds of the audio limit a user may set (max_audio_seconds). The
 * limits each model documents live in the facade's model table, generated
 * from the service's API reference, and reach the core with each create. */
#ifndef OMH_MODEL_LIMITS_H
#define OMH_MODEL_LIMITS_H

/* The range max_audio_seconds may take (seconds). */
#define OMH_MIN_AUDIO_LIMIT 0.001
#define OMH_MAX_AUDIO_LIMIT 86400.0

#endif
