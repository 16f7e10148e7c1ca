-- Limits the service's API reference states in prose only, kept by hand
-- and merged into the model table by tools/models/generate.lua. Each entry
-- names the reference file (in aimlapi/api-docs) that states it.
--   audio_seconds: local audio must be shorter than this (seconds)
--   audio_bytes:   a local audio file may be at most this large
return {
  ["bytedance/omnihuman"] = {
    source = "docs/api-references/video-models/ByteDance/omnihuman.json (audio_url: under 30s long)",
    limits = { audio_url = { audio_seconds = 30 } },
  },
  ["bytedance/omnihuman/v1.5"] = {
    source = "docs/api-references/video-models/ByteDance/omnihuman-v.1.5.json (audio_url: under 30s long)",
    limits = { audio_url = { audio_seconds = 30 } },
  },
  ["veed/fabric-1.0"] = {
    source = "docs/api-references/video-models/VEED/fabric-1.0.json (audio_url: under 30s long)",
    limits = { audio_url = { audio_seconds = 30 } },
  },
  ["klingai/avatar-pro"] = {
    source = "docs/api-references/video-models/Kling-AI/avatar-pro.json (audio_url: maximum file size 5 MB)",
    limits = { audio_url = { audio_bytes = 5 * 1024 * 1024 } },
  },
  ["klingai/avatar-standard"] = {
    source = "docs/api-references/video-models/Kling-AI/avatar-standard.json (audio_url: maximum file size 5 MB)",
    limits = { audio_url = { audio_bytes = 5 * 1024 * 1024 } },
  },
  ["bytedance/seedance-2-0"] = {
    source = "docs/api-references/video-models/ByteDance/seedance-2-0.json (audio_url: at most 15.2 seconds)",
    limits = { audio_url = { audio_seconds = 15.2 } },
  },
  ["bytedance/dreamina-seedance-2-0-mini"] = {
    source = "docs/api-references/video-models/ByteDance/seedance-2-0-mini.json (audio_url: at most 15.2 seconds)",
    limits = { audio_url = { audio_seconds = 15.2 } },
  },
  ["bytedance/seedance-2-5"] = {
    source = "docs/api-references/video-models/ByteDance/seedance-2.5.json (audio_url: at most 15.2 seconds)",
    limits = { audio_url = { audio_seconds = 15.2 } },
  },
  ["bytedance/dreamina-seedance-2-5"] = {
    source = "docs/api-references/video-models/ByteDance/dreamina-seedance-2-5.json (audio_url: at most 15.2 seconds)",
    limits = { audio_url = { audio_seconds = 15.2 } },
  },
}
