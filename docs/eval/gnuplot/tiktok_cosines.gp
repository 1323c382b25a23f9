set terminal pngcairo noenhanced size 900,550 font 'sans,10'
set output 'docs/eval/gnuplot/tiktok_cosines.png'
set title 'Cosine similarity of 100,000 random product pairs on tiktok'
set xlabel 'cosine'
set ylabel 'share of pairs'
set xrange [-1:1]
set key top left
plot 'docs/eval/gnuplot/tiktok_cosines.dat' using 1:2 with lines lw 2 title 'SkipGram (kurtosis 0.40)', \
     'docs/eval/gnuplot/tiktok_cosines.dat' using 1:3 with lines lw 2 title 'VASG (kurtosis 0.63)', \
     'docs/eval/gnuplot/tiktok_cosines.dat' using 1:4 with lines lw 2 title 'VASG-paper (kurtosis 3.17)', \
     'docs/eval/gnuplot/tiktok_cosines.dat' using 1:5 with lines lw 2 title 'raw image features (kurtosis 1.11)', \
     'docs/eval/gnuplot/tiktok_cosines.dat' using 1:6 with lines lw 2 title 'WBOI-z (kurtosis 2.06)'
