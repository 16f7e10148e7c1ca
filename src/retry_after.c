/* Retry-After parsing without strptime/timegm: those depend on locale or
 * are not POSIX, and the value comes from an untrusted peer anyway, so a
 * small strict parser over (pointer, length) is simpler to trust. */
#include "retry_after.h"

#include <string.h>

/* RFC 9110 asks for this cap on delta-seconds that do not fit. */
#define DELTA_MAX 2147483648.0
/* 0001-01-01 and 9999-12-31 23:59:59 as epoch seconds and days. */
#define YEAR1_S (-62135596800LL)
#define YEAR1_DAYS (-719162LL)
#define YEAR9999_S 253402300799LL

typedef struct {
  const char *p;
  size_t n, i;
} cursor;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static int eat(cursor *c, char ch) {
  if (c->i < c->n && c->p[c->i] == ch) {
    c->i++;
    return 1;
  }
  return 0;
}

/* Exactly `count` digits. */
static int digits(cursor *c, int count, int *out) {
  int v = 0, k;
  for (k = 0; k < count; k++) {
    if (c->i >= c->n || !is_digit(c->p[c->i])) return 0;
    v = v * 10 + (c->p[c->i++] - '0');
  }
  *out = v;
  return 1;
}

/* A run of letters matched case-insensitively against a table; returns the
 * index or -1. Names are compared whole, so "Sunny" is not "Sun". */
static int word(cursor *c, const char *const *names, int count) {
  size_t start = c->i, len;
  int k;
  while (c->i < c->n && lower(c->p[c->i]) >= 'a' && lower(c->p[c->i]) <= 'z') c->i++;
  len = c->i - start;
  for (k = 0; k < count; k++) {
    size_t j;
    if (strlen(names[k]) != len) continue;
    for (j = 0; j < len && lower(c->p[start + j]) == names[k][j]; j++)
      ;
    if (j == len) return k;
  }
  return -1;
}

static const char *const day_names[] = {"mon",      "tue",    "wed",      "thu",     "fri",
                                        "sat",      "sun",    "monday",   "tuesday", "wednesday",
                                        "thursday", "friday", "saturday", "sunday"};
static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};

/* hh:mm:ss, seconds up to 60 for a leap second. */
static int time_of_day(cursor *c, int *h, int *m, int *s) {
  return digits(c, 2, h) && eat(c, ':') && digits(c, 2, m) && eat(c, ':') && digits(c, 2, s) && *h <= 23 &&
         *m <= 59 && *s <= 60;
}

static int gmt(cursor *c) {
  static const char *const zones[] = {"gmt", "utc"};
  return word(c, zones, 2) >= 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), exact for any year without overflow here. */
static long long days_from_civil(long long y, int m, int d) {
  long long era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* Year of a day count: the inverse of days_from_civil, year part only. */
static long long year_from_days(long long z) {
  long long era, doe, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  return yoe + era * 400 + (mp >= 10); /* Jan and Feb belong to next year */
}

static int days_in_month(long long y, int m) {
  static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return dim[m - 1] + (m == 2 && leap);
}

/* Parses the three HTTP-date forms into seconds since the epoch. */
static int http_date(cursor *c, long long now_s, long long *out) {
  int day, mon, yy, h, mi, s, wd, y4;
  long long year = 0;

  wd = word(c, day_names, 14);
  if (wd < 0) return 0;
  if (eat(c, ',')) {
    if (!eat(c, ' ') || !digits(c, 2, &day)) return 0;
    if (eat(c, ' ')) { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
      if ((mon = word(c, month_names, 12)) < 0 || !eat(c, ' ') || !digits(c, 4, &y4)) return 0;
      year = y4;
    } else if (eat(c, '-')) { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
      long long now_year;
      if ((mon = word(c, month_names, 12)) < 0 || !eat(c, '-') || !digits(c, 2, &yy)) return 0;
      /* Two-digit year: nearest to now, but never more than 50
       * years ahead (RFC 9110). `now` is clamped to years 1..9999 so
       * nothing below can overflow whatever the caller passes. */
      if (now_s < YEAR1_S) now_s = YEAR1_S;
      if (now_s > YEAR9999_S) now_s = YEAR9999_S;
      now_year = year_from_days((now_s - YEAR1_S) / 86400 + YEAR1_DAYS);
      year = now_year - now_year % 100 + yy;
      if (year > now_year + 50)
        year -= 100;
      else if (year + 100 <= now_year + 50)
        year += 100;
    } else {
      return 0;
    }
    if (!eat(c, ' ') || !time_of_day(c, &h, &mi, &s) || !eat(c, ' ') || !gmt(c)) return 0;
  } else { /* asctime: Sun Nov  6 08:49:37 1994 */
    if (!eat(c, ' ') || (mon = word(c, month_names, 12)) < 0 || !eat(c, ' ')) return 0;
    if (eat(c, ' ')) {
      if (!digits(c, 1, &day)) return 0;
    } else if (!digits(c, 2, &day)) {
      return 0;
    }
    if (!eat(c, ' ') || !time_of_day(c, &h, &mi, &s) || !eat(c, ' ') || !digits(c, 4, &y4)) return 0;
    year = y4;
  }
  if (c->i != c->n) return 0;
  mon += 1;
  if (day < 1 || day > days_in_month(year, mon)) return 0;
  *out = days_from_civil(year, mon, day) * 86400 + h * 3600L + mi * 60L + s;
  return 1;
}

double omh_retry_after_parse(const char *value, size_t len, time_t now) {
  cursor c;
  long long when, now_s = (long long)now;
  size_t i;
  double v;

  if (!value) return -1.0;
  while (len > 0 && is_ws(value[0])) {
    value++;
    len--;
  }
  while (len > 0 && is_ws(value[len - 1])) len--;
  if (len == 0) return -1.0;

  if (is_digit(value[0])) { /* delta-seconds: 1*DIGIT and nothing else */
    v = 0.0;
    for (i = 0; i < len; i++) {
      if (!is_digit(value[i])) return -1.0;
      if (v < DELTA_MAX) v = v * 10.0 + (value[i] - '0');
    }
    return v < DELTA_MAX ? v : DELTA_MAX;
  }

  c.p = value;
  c.n = len;
  c.i = 0;
  if (!http_date(&c, now_s, &when)) return -1.0;
  /* In double: now may be anything a time_t holds. */
  v = (double)when - (double)now_s;
  return v > 0.0 ? v : 0.0;
}
