/* What the service documents per model, in one table: the checks made
 * before a billed create read their limits from here. */
#ifndef OMH_MODEL_LIMITS_H
#define OMH_MODEL_LIMITS_H

/* The range max_audio_seconds may take (seconds). */
#define OMH_MIN_AUDIO_LIMIT 0.001
#define OMH_MAX_AUDIO_LIMIT 86400.0

/* Audio must be shorter than this many seconds. *known is set to 0 when
 * the model is not in the table (the family's default is returned). */
double omh_limits_audio_seconds(const char *model, int *known);

#endif
