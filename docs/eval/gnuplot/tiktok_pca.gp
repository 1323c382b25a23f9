set terminal pngcairo noenhanced size 900,750 font 'sans,10'
set output 'docs/eval/gnuplot/tiktok_pca.png'
set title 'VASG product embeddings on tiktok: first two principal components'
set xlabel 'PC 1'
set ylabel 'PC 2'
set key top right
set cblabel 'log10(1 + training purchases)'
set palette defined (0 '#c6dbef', 1 '#2171b5', 2 '#08306b')
plot 'docs/eval/gnuplot/tiktok_pca_warm.dat' using 1:2:3 with points pt 7 ps 0.35 lc palette title 'warm products', \
     'docs/eval/gnuplot/tiktok_pca_cold.dat' using 1:2 with points pt 2 ps 0.6 lc rgb '#d62728' title 'cold products (embedded by the encoder)'
