#!/usr/bin/env bash
# make_set.sh — the cull test set, made from the fixture photos with real tools (ImageMagick,
# libwebp's cwebp, exiftool), as a user's folder would hold them:
#   make_set.sh FIXTURES_IMAGES_DIR OUT_DIR
# OUT_DIR/set/     originals, byte copies, metadata-only copies, re-encodes (JPEG q60, WebP,
#                  PNG), a 50% resize, a 5% crop, brightness +-10%, a Gaussian blur (sigma 3),
#                  distinct photos, and burst frames with EXIF times and cameras;
# OUT_DIR/expect.tsv  name <TAB> the original it derives from <TAB> how (what the test checks).
set -euo pipefail
src=$1 out=$2
im=convert
command -v convert-im6.q16 >/dev/null && im=convert-im6.q16   # the real one, not a wrapper
for t in "$im" cwebp exiftool; do
  command -v "$t" >/dev/null || { echo "make_set.sh: $t is missing (scripts/setup.sh installs it)" >&2; exit 3; }
done
rm -rf "$out/set" && mkdir -p "$out/set"
cd "$out/set"
: > ../expect.tsv
add() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> ../expect.tsv; }
strip() { exiftool -q -q -overwrite_original -all= "$1"; } # derived copies carry no camera data

for o in boats landscape; do
  cp "$src/photo_$o.jpg" "$o.jpg";                         add "$o.jpg" "$o" original
  cp "$o.jpg" "${o}_copy.jpg";                             add "${o}_copy.jpg" "$o" bytes
  exiftool -q -q -Artist="someone else" -Copyright=x -o "${o}_meta.jpg" "$o.jpg"
                                                           add "${o}_meta.jpg" "$o" pixels
  $im "$o.jpg" -quality 60 "${o}_q60.jpg";                 add "${o}_q60.jpg" "$o" near
  $im "$o.jpg" -resize 50% -quality 92 "${o}_half.jpg";    add "${o}_half.jpg" "$o" near
  $im "$o.jpg" -gravity center -crop 95%x95%+0+0 +repage -quality 92 "${o}_crop.jpg"
                                                           add "${o}_crop.jpg" "$o" near
  $im "$o.jpg" -modulate 110 -quality 92 "${o}_bright.jpg"; add "${o}_bright.jpg" "$o" near
  $im "$o.jpg" -modulate 90 -quality 92 "${o}_dark.jpg";   add "${o}_dark.jpg" "$o" near
  $im "$o.jpg" -blur 0x3 -quality 92 "${o}_blur.jpg";      add "${o}_blur.jpg" "$o" blur
  $im "$o.jpg" "${o}_png.png";                             add "${o}_png.png" "$o" png
  cwebp -quiet -q 80 "$o.jpg" -o "${o}_webp.webp";         add "${o}_webp.webp" "$o" near
  for f in "${o}"_{q60,half,crop,bright,dark,blur}.jpg; do strip "$f"; done
done
for o in rocket ladybird portrait chelsea_gray; do
  cp "$src/photo_$o.jpg" "$o.jpg";                         add "$o.jpg" "$o" distinct
done
cp "$src/photo_astronaut.png" astronaut.png;               add astronaut.png astronaut distinct
# an absurd capture time (month 13, hour 99), and a file cut short
$im "$src/photo_garden_lossy.webp" -quality 92 odd_date.jpg
exiftool -q -q -overwrite_original -DateTimeOriginal='2024:01:23 10:00:00' odd_date.jpg
perl -pi -e 's/2024:01:23 10:00:00/2024:13:45 99:00:00/g' odd_date.jpg  # exiftool refuses to write it
                                                           add odd_date.jpg garden distinct
head -c 2000 boats.jpg > broken.jpg;                       add broken.jpg boats error

# bursts: three frames of one camera half a second apart (crops walking across the coffee
# photo), the same moment from a second camera, and a frame 30 s later
$im "$src/photo_coffee.gif" -quality 92 coffee_base.jpg
frame() { # name x-offset% time subsec serial
  $im coffee_base.jpg -gravity west -crop 90%x100%+"$2"+0 +repage -quality 92 "$1"
  exiftool -q -q -overwrite_original -DateTimeOriginal="2024:06:01 12:00:$3" -SubSecTimeOriginal="$4" \
    -Make=Canon -Model="Canon EOS R5" -SerialNumber="$5" "$1"
}
frame burst_a1.jpg 0 00 00 1001;  add burst_a1.jpg coffee burst-a
frame burst_a2.jpg 8 00 50 1001;  add burst_a2.jpg coffee burst-a
frame burst_a3.jpg 16 01 00 1001; add burst_a3.jpg coffee burst-a
frame burst_b1.jpg 12 00 50 2002;  add burst_b1.jpg coffee camera-b
frame burst_late.jpg 24 31 00 1001; add burst_late.jpg coffee late
rm coffee_base.jpg
