"""Search for the Korean edition: Sphinx has no Korean search language.

Korean writes particles onto the word they follow: 은닉 상태를, 상태가,
상태의 are all the word 상태. Sphinx's default splits at spaces and
would index 상태를 as a word of its own, so a reader who types 은닉 상태
would not find the page that says 은닉 상태를. Here every Korean word is
indexed twice, as written and without a trailing particle, and the
browser strips the particle from what the reader types in the same way
(the JavaScript is generated from the same list). Words in Latin letters
are stemmed as in English (LSTM, gradients).

A particle is stripped from a query only when at least two syllables
remain (차이 stays 차이, but 상태를 becomes 상태): the index holds the
written form too, so a short word is found as written.
"""

import json
import re

from sphinx.search.en import SearchEnglish

# Longest first: 에서는 before 에서 before 에.
PARTICLES = sorted(
    [
        "은",
        "는",
        "이",
        "가",
        "을",
        "를",
        "의",
        "에",
        "로",
        "와",
        "과",
        "도",
        "만",
        "나",
        "란",
        "요",
        "에서",
        "에게",
        "으로",
        "로서",
        "로써",
        "까지",
        "부터",
        "보다",
        "처럼",
        "마다",
        "이나",
        "이며",
        "이고",
        "이다",
        "이란",
        "라는",
        "라고",
        "하고",
        "이라",
        "에는",
        "에도",
        "와는",
        "과는",
        "로는",
        "에서는",
        "에서도",
        "으로는",
        "으로서",
        "으로써",
        "에게서",
        "까지는",
        "부터는",
        "이라는",
        "이라고",
        "에서의",
        "으로의",
        "입니다",
        "이므로",
    ],
    key=len,
    reverse=True,
)
HANGUL = re.compile("[\uac00-\ud7a3]")


def without_particle(word, keep=1):
    """``word`` without its trailing particle, if at least ``keep``
    characters remain; else ``word``."""
    if HANGUL.search(word):
        for particle in PARTICLES:
            if word.endswith(particle) and len(word) - len(particle) >= keep:
                return word[: -len(particle)]
    return word


JS_STEMMER = """
/* Korean: a trailing particle is removed (i18n/search_ko.py); words in
   Latin letters are stemmed as in English. */
%(english)s
var KoreanParticles = %(particles)s;
var Stemmer = function() {
  var english = new EnglishStemmer();
  this.stemWord = function(word) {
    if (!/[\\uac00-\\ud7a3]/.test(word)) return english.stemWord(word);
    for (var i = 0; i < KoreanParticles.length; i++) {
      var p = KoreanParticles[i];
      if (word.length - p.length >= 2 && word.endsWith(p))
        return word.slice(0, word.length - p.length);
    }
    return word;
  };
};
"""


class SearchKorean(SearchEnglish):
    """Sphinx's search language for ``language = "ko"``."""

    lang = "ko"
    language_name = "Korean"
    js_stemmer_code = JS_STEMMER % {
        "english": SearchEnglish.js_stemmer_code.replace(
            "var Stemmer", "var EnglishStemmer"
        ),
        "particles": json.dumps(PARTICLES, ensure_ascii=False),
    }

    def split(self, input):
        words = []
        for word in super().split(input):
            words.append(word)
            bare = without_particle(word)
            if bare != word:
                words.append(bare)
        return words

    def stem(self, word):
        if HANGUL.search(word):
            return word
        return super().stem(word)
