#include "model_limits.h"

#include <string.h>

/* The AI/ML API reference: audio under 30 s for both models. (The
 * upstream provider allows 60 s for v1.5 at 720p; the API in front of it
 * documents 30 s, and nothing shows it passing longer clips through.) */
static const struct {
  const char *model;
  double audio_seconds;
} models[] = {
    {"bytedance/omnihuman", 30},
    {"bytedance/omnihuman/v1.5", 30},
};

#define DEFAULT_AUDIO_SECONDS 30

double omh_limits_audio_seconds(const char *model, int *known) {
  for (size_t i = 0; model && i < sizeof models / sizeof models[0]; i++) {
    if (strcmp(model, models[i].model) == 0) {
      *known = 1;
      return models[i].audio_seconds;
    }
  }
  *known = 0;
  return DEFAULT_AUDIO_SECONDS;
}
